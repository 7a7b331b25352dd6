using System.Net;
using BenchmarkDotNet.Attributes;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// A new connection with a NAT budget against one without, same run (the goal: at most 1.05x).
/// The loopback destination is listed in <c>Nat.Destinations</c>, so every connect charges the
/// NAT ledger beside its local tuple; the third row adds an <see cref="IFleetBudget"/> whose grant
/// always has room (<see cref="LocalGrant"/>), what a fleet member pays while its Redis grant
/// lasts: reading the grant and reporting what it holds, no Redis. Every connection is closed with
/// RST, and <c>Nat.HoldAfterReset</c> is 0, so the NAT ledger frees the port at the close as the
/// local tuple does and the run never fills it. Grant refills through Redis:
/// <see cref="FleetGrantBenchmark"/>.
/// </summary>
/// <remarks>
/// Shares <see cref="ClientPorts.NewConnection"/> with <see cref="NewConnectionBenchmark"/>: the
/// classes run one after the other and leave no socket behind.
/// </remarks>
[MemoryDiagnoser]
public class NatNewConnectionBenchmark
{
    private ChildServer _server = null!;
    private IPEndPoint _destination = null!;
    private SocketPool _plain = null!;
    private SocketPool _nat = null!;
    private SocketPool _fleet = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartSockets();
        _destination = _server.Hold;
        _plain = new SocketPool(Options(nat: false));
        _nat = new SocketPool(Options(nat: true));
        _fleet = new SocketPool(Options(nat: true), new LocalGrant());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _nat.Dispose();
        _fleet.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SocketPool new connection, no Nat")]
    public ValueTask NoNat() => ConnectOnce.PoolAsync(_plain, _destination);

    [Benchmark(Description = "SocketPool new connection, Nat (destination listed)")]
    public ValueTask Nat() => ConnectOnce.PoolAsync(_nat, _destination);

    [Benchmark(Description = "SocketPool new connection, Nat + fleet budget, local grant")]
    public ValueTask NatWithFleetGrant() => ConnectOnce.PoolAsync(_fleet, _destination);

    internal static TuplePoolOptions Options(bool nat, PortRange? range = null) => new()
    {
        LocalPortRange = range ?? ClientPorts.NewConnection,
        CloseMode = CloseMode.Abortive,
        IdleTimeout = TimeSpan.FromHours(1),
        Nat = nat
            ? new NatOptions
            {
                PortsPerDestination = 1 << 20,
                HoldAfterReset = TimeSpan.Zero,
                Destinations = { new IPNetwork(IPAddress.Loopback, 8) },
            }
            : null,
    };

    /// <summary>A fleet budget whose grant never runs out: the pool's side of the fleet, without Redis.</summary>
    internal sealed class LocalGrant : IFleetBudget
    {
        public IDisposable Attach(NatOptions nat, Action<IPEndPoint> grantChanged) => new Registration();

        public int GetGrant(IPEndPoint destination) => 1 << 20;

        public void Report(IPEndPoint destination, int held, int waiting)
        {
        }

        private sealed class Registration : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
