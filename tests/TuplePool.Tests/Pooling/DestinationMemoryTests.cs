using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>The heap measured around these tests is the process's: nothing else may run meanwhile.</summary>
[CollectionDefinition(nameof(ProcessWideHeap), DisableParallelization = true)]
public sealed class ProcessWideHeap;

/// <summary>
/// Memory that follows use: a crawl over many destinations, each used once, keeps at most a
/// kilobyte of heap per destination the pool still knows, and once the connections have
/// expired and the destinations have been empty for <see cref="TuplePoolOptions.EmptyDestinationTimeout"/>
/// the heap and the snapshot are back where they started.
/// </summary>
/// <remarks>
/// No traffic: the connector hands out sockets that are never connected (the pool only closes
/// them), so a crawl can touch 100,000 addresses of 127.0.0.0/8 without a packet and without
/// a listener. The heap is read with <see cref="GC.GetTotalMemory(bool)"/> after a forced
/// collection, in a collection of tests that runs alone.
/// </remarks>
[Collection(nameof(ProcessWideHeap))]
public sealed class DestinationMemoryTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Crawl_OneHundredThousandDestinations_UnderOneKilobyteEach_AndAllGoneAfterTheTimeout()
    {
        if (await RanInACleanProcessAsync(nameof(Crawl_OneHundredThousandDestinations_UnderOneKilobyteEach_AndAllGoneAfterTheTimeout)))
        {
            return;
        }

        const int destinations = 100_000;
        await using var pool = CreateSut(out var connects);
        await CrawlAsync(pool, count: 1, invalidate: true); // the pool's own parts exist before the start is read
        _time.Advance(TimeSpan.FromSeconds(35));
        Assert.Equal(0, pool.Destinations.Count);
        var start = Heap();

        await CrawlAsync(pool, destinations, invalidate: true);
        var known = Heap();

        Assert.Equal(destinations, pool.Destinations.Count);
        Assert.Equal(destinations + 1, connects());
        Assert.Equal(0, WithConnections(pool)); // what a snapshot walks: none of them has a connection
        var perDestination = (known - start) / (double)destinations;
        Assert.True(perDestination <= 1024, $"{perDestination:F0} B of heap per known destination without idle connections (at most 1,024).");

        AdvanceBySweeps(TimeSpan.FromSeconds(35)); // EmptyDestinationTimeout (30 s) and a sweep
        var end = Heap();

        Assert.Equal(0, pool.Destinations.Count);
        Assert.Empty(pool.GetSnapshot().Tuples);
        AssertOnlyTableCapacityLeft(start, end, destinations);
    }

    [Fact]
    public async Task Crawl_WithIdleConnections_AfterIdleTimeoutAndTheEmptyTimeout_HeapAndSnapshotAreBackAtTheStart()
    {
        if (await RanInACleanProcessAsync(nameof(Crawl_WithIdleConnections_AfterIdleTimeoutAndTheEmptyTimeout_HeapAndSnapshotAreBackAtTheStart)))
        {
            return;
        }

        // Ten thousand stay idle at once: below the process's 20,000 descriptors.
        const int destinations = 10_000;
        await using var pool = CreateSut(out _);
        await CrawlAsync(pool, count: 1, invalidate: false);
        AdvanceBySweeps(TimeSpan.FromSeconds(45));
        Assert.Equal(0, pool.Destinations.Count);
        var start = Heap();

        await CrawlAsync(pool, destinations, invalidate: false);
        Assert.Equal(destinations, pool.GetSnapshot().TotalIdle);
        Assert.Equal(destinations, WithConnections(pool));

        AdvanceBySweeps(TimeSpan.FromSeconds(12)); // IdleTimeout (10 s): the reaper closes them
        Assert.Equal(0, pool.GetSnapshot().TotalIdle);
        Assert.Equal(destinations, pool.Destinations.Count); // known, empty
        Assert.Equal(0, WithConnections(pool));

        AdvanceBySweeps(TimeSpan.FromSeconds(32)); // EmptyDestinationTimeout (30 s)
        var end = Heap();

        Assert.Equal(0, pool.Destinations.Count);
        Assert.Empty(pool.GetSnapshot().Tuples);
        AssertOnlyTableCapacityLeft(start, end, destinations);
    }

    [Fact]
    public async Task EmptyDestinationTimeoutInfinite_KeepsAnEmptyDestination()
    {
        await using var pool = CreateSut(out _, o => o.EmptyDestinationTimeout = Timeout.InfiniteTimeSpan);
        await CrawlAsync(pool, count: 3, invalidate: true);

        AdvanceBySweeps(TimeSpan.FromMinutes(10));

        Assert.Equal(3, pool.Destinations.Count);
    }

    [Fact]
    public async Task EmptyDestinationTimeout_IsWhenAnEmptyDestinationGoes()
    {
        await using var pool = CreateSut(out _, o => o.EmptyDestinationTimeout = TimeSpan.FromSeconds(20));
        await CrawlAsync(pool, count: 2, invalidate: true);

        AdvanceBySweeps(TimeSpan.FromSeconds(15));
        Assert.Equal(2, pool.Destinations.Count);
        AdvanceBySweeps(TimeSpan.FromSeconds(10));
        Assert.Equal(0, pool.Destinations.Count);
    }

    /// <summary>
    /// What may stay after every destination is forgotten: the capacity of the four hash tables
    /// keyed by destination (the registry, its destinations with connections, the budget's
    /// addresses, the metrics' destinations), which keep their bucket arrays as every .NET
    /// dictionary does: 8 B a slot, up to about 3.6 slots per destination at the peak after a
    /// resize (measured with dotnet-gcdump: 290,848 B for each of the two largest tables after
    /// 10,000 destinations on net10.0; net8.0 sizes them a little differently). The objects of a
    /// destination are about 1 KB together, so one left per destination would show far above this.
    /// </summary>
    private static void AssertOnlyTableCapacityLeft(long start, long end, int peakDestinations)
        => Assert.True(end - start <= 128L * peakDestinations, $"{end - start:N0} B still held after all {peakDestinations:N0} destinations were forgotten (at most {128L * peakDestinations:N0}: the hash tables' capacity).");

    /// <summary>
    /// How many destinations a snapshot walks. Read in a method of its own: the keys come as a
    /// copied list, which a local of the async test method would keep alive (and every
    /// destination in it) until the heap is measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int WithConnections(SocketPool pool) => pool.Destinations.WithConnections.Count();

    private const string ChildVariable = "TUPLEPOOL_MEMORY_TEST_CHILD";

    /// <summary>
    /// Runs <paramref name="method"/> again in a process of its own and asserts that it passed:
    /// the heap is the process's, and in the suite's process other tests' hosts, timers and
    /// background work keep megabytes alive while this one measures. True in the parent (the
    /// child did the work); false in the child, which measures.
    /// </summary>
    private static async Task<bool> RanInACleanProcessAsync(string method)
    {
        if (Environment.GetEnvironmentVariable(ChildVariable) == "1")
        {
            return false;
        }

        var host = Environment.ProcessPath ?? throw new InvalidOperationException("No path for this process.");
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(DestinationMemoryTests).Assembly.Location);
        }

        start.ArgumentList.Add("-method"); // the test executable's own (xunit v3) command line
        start.ArgumentList.Add($"{typeof(DestinationMemoryTests).FullName}.{method}");
        start.Environment[ChildVariable] = "1";
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"{host} did not start.");
        var output = child.StandardOutput.ReadToEndAsync();
        var errors = child.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await child.WaitForExitAsync(limit.Token);
        Assert.True(child.ExitCode == 0, $"{method} in its own process exited {child.ExitCode}:\n{await output}\n{await errors}");
        Assert.Contains("Total: 1, Errors: 0, Failed: 0", await output, StringComparison.Ordinal); // it ran, and passed
        return true;
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>One acquire and dispose each, to 127.1.0.0, 127.1.0.1, …: new destinations all.</summary>
    private static async Task CrawlAsync(SocketPool pool, int count, bool invalidate)
    {
        for (var i = 0; i < count; i++)
        {
            var destination = new IPEndPoint(new IPAddress([127, (byte)(1 + (i >> 16)), (byte)(i >> 8), (byte)i]), 8080);
            var lease = await pool.AcquireAsync(destination);
            if (invalidate)
            {
                lease.Invalidate();
            }

            lease.Dispose();
        }
    }

    /// <summary>Moves the clock in steps of a second, so the pool's timer ticks and sweeps on the way.</summary>
    private void AdvanceBySweeps(TimeSpan total)
    {
        for (var passed = TimeSpan.Zero; passed < total; passed += TimeSpan.FromSeconds(1))
        {
            _time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    private SocketPool CreateSut(out Func<int> connects, Action<TuplePoolOptions>? configure = null)
    {
        var connector = new UnconnectedSockets();
        connects = () => connector.Count;
        var options = new TuplePoolOptions
        {
            LocalPortRange = new PortRange(40000, 40999),
            CloseMode = CloseMode.Abortive,
            ValidateOnAcquire = false,
            IdleTimeout = TimeSpan.FromSeconds(10),
            EmptyDestinationTimeout = TimeSpan.FromSeconds(30),
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, connector, Substitute.For<IKernelCensus>(), TestKernel.Create());
    }

    /// <summary>
    /// Hands out sockets that are never connected. Not a substitute: NSubstitute records every
    /// call with its arguments, and 100,000 recorded calls would be measured as the pool's heap.
    /// </summary>
    private sealed class UnconnectedSockets : ISocketConnector
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return new ValueTask<Socket>(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        }
    }
}
