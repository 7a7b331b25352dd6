using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

/// <summary>
/// A long-running scenario's line protocol with the test: one command a line on stdin, one JSON
/// object a line on stdout per command (and one when it is ready). End of stdin means the test is
/// done or gone: a scenario that stops then never outlives the run that started it.
/// </summary>
internal static class ControlChannel
{
    public static void Write(JsonObject reply)
    {
        Console.Out.WriteLine(reply.ToJsonString());
        Console.Out.Flush();
    }

    /// <summary>The next command, or null at end of stdin.</summary>
    /// <remarks>Console.In reads block; on a pool thread they leave the scenario's own continuations free.</remarks>
    public static Task<string?> ReadAsync() => Task.Run(Console.In.ReadLine);
}
