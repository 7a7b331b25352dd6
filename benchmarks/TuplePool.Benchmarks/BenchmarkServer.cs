using System.Globalization;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>Starts the loopback server child the benchmarks connect to.</summary>
internal static class BenchmarkServer
{
    public static ChildServer StartSockets() =>
        ChildServer.Start([ServerHolder.Switch, ClientPorts.FirstServerPort.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30));

    public static ChildServer StartHttp() =>
        ChildServer.Start([HttpServerHolder.Switch, (ClientPorts.FirstServerPort + 100).ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));

    /// <summary>127.0.0.2 ... 127.0.0.(count+1).</summary>
    public static System.Net.IPAddress[] Sources(int count) =>
        Enumerable.Range(2, count).Select(i => new System.Net.IPAddress([127, 0, 0, (byte)i])).ToArray();
}
