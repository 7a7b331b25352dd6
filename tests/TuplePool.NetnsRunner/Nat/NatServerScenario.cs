using System.Net;
using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>nat-server --port P</c>, in the NAT lab's server namespace (tests/TuplePool.Tests/Support/NatLab.cs):
/// an echo server on 0.0.0.0:P that writes <c>{"listening": ...}</c> once it accepts, then stays
/// until it is killed or its stdin ends (ControlChannel).
/// </summary>
internal static class NatServerScenario
{
    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var port = args.GetInt("port");
        if (port is < 1 or > 32767)
        {
            throw new ArgumentException($"--port {port}: listening ports stay below the ephemeral range (1-32767).");
        }

        await using var server = new EchoServer(new IPEndPoint(IPAddress.Any, port));
        ControlChannel.Write(new JsonObject { ["listening"] = server.EndPoint.ToString() });
        while (await ControlChannel.ReadAsync() is not null)
        {
            // No commands: the server only waits for the end of its input.
        }

        return new JsonObject { ["stopped"] = true, ["open"] = server.Open };
    }
}
