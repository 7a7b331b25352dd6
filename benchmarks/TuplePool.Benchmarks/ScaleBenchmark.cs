using System.Diagnostics;
using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// Whether a pool's costs stay flat as its work grows: three pairs of rows, each a baseline and the
/// same operation on a bigger pool, so the Ratio column of each category is its goal.
/// <list type="bullet">
/// <item><b>destinations known</b>: a new connection to one fixed destination (acquire,
/// <c>Invalidate()</c>, dispose: RST, as <see cref="NewConnectionBenchmark"/>'s kernel-source row)
/// in a pool that knows 100,000 destinations against one that knows only that one. Goal: at most 1.10x.</item>
/// <item><b>idle hit by sources</b>: <see cref="IdleHitBenchmark"/>'s unchecked one-thread loop
/// in a pool with 256 source addresses against one with a single source. Goal: at most 1.10x.</item>
/// <item><b>new destination by sources</b>: the first acquire of a destination the pool has
/// never seen (acquire, <c>Invalidate()</c>, dispose), 256 sources against one. Goal: at most 1.25x.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>The server child listens on 0.0.0.0, so one port accepts connections to any 127.x.y.z:
/// destinations are distinct addresses of 127/8 (<see cref="LoopbackAddresses"/>), sources
/// 127.0.1.1 on. Each row builds only its own pool (<c>GlobalSetup</c> by target; BenchmarkDotNet
/// runs each row in a process of its own), and the setup checks that the pool is what the row
/// claims, so a setup that went wrong fails the row instead of measuring something else.</para>
/// <para>Known destinations: the setup connects once to each of the 100,000 (the fixed one among
/// them), one at a time, each closed with RST, so nothing stays open and nothing is in TIME_WAIT;
/// <c>EmptyDestinationTimeout</c> is infinite in both pools, so none is forgotten. That takes
/// 10-30 s per run of the row on a 2-core machine, and about a kilobyte of heap per destination
/// (the bound <c>DestinationMemoryTests</c> holds the pool to). The fixed destination is the one the pool used last, so its lookup
/// skips the registry's dictionary (<c>DestinationRegistry.Get</c>) in both rows: what the ratio
/// shows is the rest, a bigger heap and the reaper's sweeps over every destination.</para>
/// <para>New destinations: each invocation takes the next address of a counter from 127.16.0.1
/// on (15 million before it runs out); both rows start at the same address, so each pool gathers
/// about as many known destinations as the other over its run (the default
/// <c>EmptyDestinationTimeout</c>, 60 s: a row's run is shorter). The endpoint each invocation
/// makes (an <see cref="IPAddress"/> and an <see cref="IPEndPoint"/>) is in both rows' Allocated.</para>
/// <para>Client ports: the new-connection rows share <see cref="ClientPorts.NewConnection"/> with
/// <see cref="NewConnectionBenchmark"/>, the idle hits <see cref="ClientPorts.IdleHit"/> with
/// <see cref="IdleHitBenchmark"/>; the classes run one after another and leave no socket behind.</para>
/// </remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ScaleBenchmark
{
    /// <summary>Destinations the bigger pool of the first pair knows.</summary>
    public const int KnownDestinations = 100_000;

    /// <summary>Source addresses of the bigger pools of the second and third pairs.</summary>
    public const int ManySources = 256;

    private const int IdleHits = 1 << 16;

    private const string Known = "destinations known";
    private const string IdleHitBySources = "idle hit by sources";
    private const string NewDestinationBySources = "new destination by sources";

    private ChildServer? _server;
    private SocketPool? _pool;
    private IPEndPoint _destination = null!;
    private IPEndPoint _fixed = null!;
    private long _nextDestination;

    [GlobalSetup(Target = nameof(NewConnectionOneKnown))]
    public void SetupOneKnown() => SetupKnown(1);

    [GlobalSetup(Target = nameof(NewConnectionManyKnown))]
    public void SetupManyKnown() => SetupKnown(KnownDestinations);

    [GlobalSetup(Target = nameof(IdleHitOneSource))]
    public void SetupIdleHitOneSource() => SetupIdleHit(1);

    [GlobalSetup(Target = nameof(IdleHitManySources))]
    public void SetupIdleHitManySources() => SetupIdleHit(ManySources);

    [GlobalSetup(Target = nameof(NewDestinationOneSource))]
    public void SetupNewDestinationOneSource() => SetupNewDestination(1);

    [GlobalSetup(Target = nameof(NewDestinationManySources))]
    public void SetupNewDestinationManySources() => SetupNewDestination(ManySources);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _server?.Dispose();
        _pool = null;
        _server = null;
    }

    [BenchmarkCategory(Known)]
    [Benchmark(Baseline = true, Description = "new connection, 1 destination known")]
    public ValueTask NewConnectionOneKnown() => ConnectOnce.PoolAsync(_pool!, _fixed);

    [BenchmarkCategory(Known)]
    [Benchmark(Description = "new connection, 100,000 destinations known")]
    public ValueTask NewConnectionManyKnown() => ConnectOnce.PoolAsync(_pool!, _fixed);

    [BenchmarkCategory(IdleHitBySources)]
    [Benchmark(Baseline = true, OperationsPerInvoke = IdleHits, Description = "idle hit, unchecked, 1 source")]
    public void IdleHitOneSource() => IdleHitLoop(_pool!);

    [BenchmarkCategory(IdleHitBySources)]
    [Benchmark(OperationsPerInvoke = IdleHits, Description = "idle hit, unchecked, 256 sources")]
    public void IdleHitManySources() => IdleHitLoop(_pool!);

    [BenchmarkCategory(NewDestinationBySources)]
    [Benchmark(Baseline = true, Description = "first acquire of a new destination, 1 source")]
    public ValueTask NewDestinationOneSource() => ConnectOnce.PoolAsync(_pool!, NextNewDestination());

    [BenchmarkCategory(NewDestinationBySources)]
    [Benchmark(Description = "first acquire of a new destination, 256 sources")]
    public ValueTask NewDestinationManySources() => ConnectOnce.PoolAsync(_pool!, NextNewDestination());

    /// <summary>The n-th destination of the known set: 127.1.0.1 on.</summary>
    internal static IPAddress KnownAddress(int index) => LoopbackAddresses.At(1, 0, index);

    /// <summary>The n-th never-seen destination: 127.16.0.1 on, apart from the known set.</summary>
    internal static IPAddress NewAddress(long index) => LoopbackAddresses.At(16, 0, index);

    /// <summary>The kernel-source pool of <see cref="NewConnectionBenchmark"/>, with destinations never forgotten.</summary>
    internal static TuplePoolOptions KnownOptions() => new()
    {
        LocalPortRange = ClientPorts.NewConnection,
        CloseMode = CloseMode.Abortive,
        EmptyDestinationTimeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary><see cref="IdleHitBenchmark"/>'s unchecked pool with <paramref name="sources"/> source addresses.</summary>
    internal static TuplePoolOptions IdleHitOptions(int sources) => WithSources(
        new TuplePoolOptions
        {
            LocalPortRange = ClientPorts.IdleHit,
            ValidateOnAcquire = false,
            CloseMode = CloseMode.Abortive,
            IdleTimeout = TimeSpan.FromHours(1),
        },
        sources);

    /// <summary>A new-connection pool with <paramref name="sources"/> source addresses, otherwise the defaults.</summary>
    internal static TuplePoolOptions NewDestinationOptions(int sources) => WithSources(
        new TuplePoolOptions { LocalPortRange = ClientPorts.NewConnection, CloseMode = CloseMode.Abortive },
        sources);

    /// <summary>
    /// Makes the pool know <paramref name="count"/> destinations (<see cref="KnownAddress"/> 0 to
    /// count - 1): one connection to each, closed with RST before the next. Throws when the pool
    /// does not know exactly that many afterwards, or still holds a port.
    /// </summary>
    internal static void MakeKnown(SocketPool pool, int port, int count)
    {
        for (var i = 0; i < count; i++)
        {
            ConnectOnce.PoolAsync(pool, new IPEndPoint(KnownAddress(i), port)).AsTask().GetAwaiter().GetResult();
        }

        if (pool.Destinations.Count != count)
        {
            throw new InvalidOperationException($"The pool knows {pool.Destinations.Count} destinations after connecting to {count}.");
        }

        ThrowIfHolding(pool);
    }

    private void SetupKnown(int count)
    {
        _server = BenchmarkServer.StartSocketsOnAnyAddress();
        var port = _server.Hold.Port;
        _fixed = new IPEndPoint(KnownAddress(0), port);
        _pool = new SocketPool(KnownOptions());
        var watch = Stopwatch.StartNew();
        MakeKnown(_pool, port, count);
        WaitUntilServerHoldsNothing();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// {count:N0} {(count == 1 ? "destination" : "destinations")} known after {watch.Elapsed.TotalSeconds:F1} s"));
    }

    private void SetupIdleHit(int sources)
    {
        _server = BenchmarkServer.StartSocketsOnAnyAddress();
        _destination = _server.Hold;
        _pool = new SocketPool(IdleHitOptions(sources));
        ThrowIfSourcesAreNot(_pool, sources);

        // One idle socket: the loop's thread holds one lease at a time, so every acquire is a hit.
        _pool.AcquireAsync(_destination).AsTask().GetAwaiter().GetResult().Dispose();
        var idle = _pool.GetSnapshot().Tuples.Sum(t => t.Idle);
        if (idle != 1)
        {
            throw new InvalidOperationException($"The pool holds {idle} idle connections after the warm-up, not 1.");
        }
    }

    private void SetupNewDestination(int sources)
    {
        _server = BenchmarkServer.StartSocketsOnAnyAddress();
        _destination = _server.Hold;
        _pool = new SocketPool(NewDestinationOptions(sources));
        ThrowIfSourcesAreNot(_pool, sources);
        _nextDestination = 0;
    }

    private IPEndPoint NextNewDestination() => new(NewAddress(_nextDestination++), _destination.Port);

    private void IdleHitLoop(SocketPool pool)
    {
        var destination = _destination;
        for (var i = IdleHits; i > 0; i--)
        {
            var pending = pool.AcquireAsync(destination);
            if (!pending.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("An acquire missed the idle store; the benchmark would measure connects.");
            }

            pending.Result.Dispose();
        }
    }

    private void WaitUntilServerHoldsNothing()
    {
        if (!_server!.WaitForCount(0, TimeSpan.FromSeconds(10)))
        {
            throw new InvalidOperationException($"The server child still holds {_server.Count()} connections: the pool's closes did not reset them.");
        }
    }

    private static TuplePoolOptions WithSources(TuplePoolOptions options, int sources)
    {
        foreach (var source in LoopbackAddresses.Sources(sources))
        {
            options.SourceAddresses.Add(source);
        }

        return options;
    }

    private static void ThrowIfSourcesAreNot(SocketPool pool, int sources)
    {
        var listed = pool.GetSnapshot().Sources.Count;
        if (listed != sources)
        {
            throw new InvalidOperationException($"The pool lists {listed} source addresses, not {sources}.");
        }
    }

    /// <summary>Nothing open and nothing in TIME_WAIT: every connection was reset, so the rows start from an empty budget.</summary>
    private static void ThrowIfHolding(SocketPool pool)
    {
        foreach (var tuple in pool.GetSnapshot().Tuples)
        {
            if (tuple.Active != 0 || tuple.Idle != 0 || tuple.TimeWait != 0)
            {
                throw new InvalidOperationException($"The pool still holds {tuple.Source} -> {tuple.Destination}: {tuple.Active} active, {tuple.Idle} idle, {tuple.TimeWait} in TIME_WAIT.");
            }
        }
    }
}
