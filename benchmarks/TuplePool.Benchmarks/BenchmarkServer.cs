using System.Globalization;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>Starts the loopback server child the benchmarks connect to.</summary>
internal static class BenchmarkServer
{
    public static ChildServer StartSockets() =>
        ChildServer.Start([ServerHolder.Switch, ClientPorts.FirstServerPort.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30));

    /// <summary>
    /// The same child listening on 0.0.0.0 (its own port, below 32768): one port accepts
    /// connections to every address of 127/8, so a benchmark has as many distinct destinations as
    /// it needs (<see cref="LoopbackAddresses"/>) with one listener. <c>Hold</c> is 127.0.0.1 and that port.
    /// </summary>
    public static ChildServer StartSocketsOnAnyAddress() =>
        ChildServer.Start(
            [ServerHolder.Switch, (ClientPorts.FirstServerPort + 400).ToString(CultureInfo.InvariantCulture), System.Net.IPAddress.Any.ToString()],
            TimeSpan.FromSeconds(30));

    /// <summary>Kestrel in the TuplePool.Benchmarks.HttpServer child (a project of its own, see its csproj).</summary>
    public static ChildServer StartHttp() =>
        ChildServer.Start(["--serve-http", (ClientPorts.FirstServerPort + 100).ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60), HttpServerAssembly());

    /// <summary>Beside this assembly (BenchmarkDotNet builds both into one folder), else in the server project's own bin folder.</summary>
    private static string HttpServerAssembly()
    {
        const string Name = "TuplePool.Benchmarks.HttpServer.dll";
        var beside = Path.Combine(AppContext.BaseDirectory, Name);
        if (File.Exists(beside))
        {
            return beside;
        }

        var built = typeof(BenchmarkServer).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), inherit: false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "HttpServerAssembly")?.Value;
        return built is not null && File.Exists(built)
            ? Path.GetFullPath(built)
            : throw new FileNotFoundException($"{Name} is neither beside the benchmarks nor at {built}; build benchmarks/TuplePool.Benchmarks.HttpServer.");
    }

    /// <summary>127.0.0.2 ... 127.0.0.(count+1).</summary>
    public static System.Net.IPAddress[] Sources(int count) =>
        Enumerable.Range(2, count).Select(i => new System.Net.IPAddress([127, 0, 0, (byte)i])).ToArray();
}
