using System.Net;
using BenchmarkDotNet.Attributes;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// The idle hit with <c>Nat</c> set against without (the goal: unchanged): one thread lends
/// the one idle socket and takes it back, unchecked, as <see cref="IdleHitBenchmark"/>'s
/// "SocketPool idle hit, unchecked" row does. With Nat set the loopback destination crosses the
/// NAT, so a lend also asks whether the socket was idle past <c>Nat.IdleTimeout</c>; the NAT
/// ledger and a fleet budget are never touched on a hit.
/// </summary>
/// <remarks>Shares <see cref="ClientPorts.IdleHit"/> with <see cref="IdleHitBenchmark"/> (they run one after the other).</remarks>
[MemoryDiagnoser]
public class NatIdleHitBenchmark
{
    private const int Operations = 1 << 16;

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
        _plain = Warm(new SocketPool(Unchecked(nat: false)));
        _nat = Warm(new SocketPool(Unchecked(nat: true)));
        _fleet = Warm(new SocketPool(Unchecked(nat: true), new NatNewConnectionBenchmark.LocalGrant()));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _nat.Dispose();
        _fleet.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "SocketPool idle hit, no Nat")]
    public void NoNat() => Loop(_plain);

    [Benchmark(OperationsPerInvoke = Operations, Description = "SocketPool idle hit, Nat (destination listed)")]
    public void Nat() => Loop(_nat);

    [Benchmark(OperationsPerInvoke = Operations, Description = "SocketPool idle hit, Nat + fleet budget")]
    public void NatWithFleetGrant() => Loop(_fleet);

    private static TuplePoolOptions Unchecked(bool nat)
    {
        var options = NatNewConnectionBenchmark.Options(nat, ClientPorts.IdleHit);
        options.ValidateOnAcquire = false;
        return options;
    }

    private SocketPool Warm(SocketPool pool)
    {
        pool.AcquireAsync(_destination).AsTask().GetAwaiter().GetResult().Dispose();
        return pool;
    }

    private void Loop(SocketPool pool)
    {
        var destination = _destination;
        for (var i = Operations; i > 0; i--)
        {
            var pending = pool.AcquireAsync(destination);
            if (!pending.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("An acquire missed the idle store; the benchmark would measure connects.");
            }

            pending.Result.Dispose();
        }
    }
}
