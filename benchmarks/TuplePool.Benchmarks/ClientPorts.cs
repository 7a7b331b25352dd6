namespace TuplePool.Benchmarks;

/// <summary>
/// Each benchmark's slice of client ports inside 50000-60999 (the tests use 35000-44999), so what
/// one benchmark leaves behind never starves another. Plain baselines that model a client without
/// any option (raw connect, the default HttpClient handler, the crowd) use the system range, and
/// close with RST so nothing stays behind.
/// </summary>
internal static class ClientPorts
{
    public static readonly PortRange IdleHit = new(50000, 50099);

    /// <summary>CensusBenchmark's TIME_WAIT crowd: all of it, from each of 112 sources.</summary>
    public static readonly PortRange Census = new(50100, 50999);

    public static readonly PortRange NewConnection = new(51000, 54999);

    public static readonly PortRange Churn = new(55000, 56999);

    public static readonly PortRange Http = new(57000, 60999);

    /// <summary>First listening port the benchmark's server child tries (below 32768).</summary>
    public const int FirstServerPort = 17000;
}
