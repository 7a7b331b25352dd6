using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Polly;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Demo.Loopback;
using TuplePool.Platform;
using TuplePool.Sources;

namespace TuplePool.Benchmarks;

/// <summary>
/// <c>--connect-probe</c>: a plain Stopwatch harness for the new-connection question, beside
/// BenchmarkDotNet. One process, loopback, a server child holding the other ends. Every variant
/// does one connect and closes it with RST; the variants run in turns, a block of each per round
/// (the order rotating every round), so drift on this shared machine hits them alike. Prints the
/// median of all samples, the spread of the round medians, and the bytes allocated per connect.
/// </summary>
/// <remarks>
/// The variants build up from a bare socket to the whole pool, so the differences between rows
/// are the cost of each stage: socket()+close, the socket options, bind, the kernel's connect,
/// the runtime's async connect (epoll and thread pool), the direct connect, the Polly pipeline,
/// the opener's source choice and ledger, and the pool's own path (PooledConnection and lease).
/// With <c>--crowd N</c> (default 16,000) the same is repeated with N plain connections open to
/// the destination first, where the floor is <c>ConnectAsync</c> with IP_LOCAL_PORT_RANGE set to
/// the system range and the plain <c>ConnectAsync</c> row shows the even/odd port search.
/// </remarks>
internal static class ConnectProbe
{
    public const string Switch = "--connect-probe";

    private static readonly IPAddress[] s_fourSources = BenchmarkServer.Sources(4);

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = IntArg(args, "--rounds", 8);
        var perRound = IntArg(args, "--per-round", 300);
        var crowd = IntArg(args, "--crowd", 16_000);
        var only = StringArg(args, "--only");

        using var server = BenchmarkServer.StartSockets();
        var destination = server.Hold;
        var kernel = KernelSettings.Read(ProcFileSystem.Default);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"connect probe: {rounds} rounds x {perRound} connects per variant, destination {destination}, Linux {kernel.KernelVersion}, {Environment.ProcessorCount} cores, .NET {Environment.Version}"));

        if (StringArg(args, "--loop") is { } loop)
        {
            // For a profiler: one variant in a loop for --seconds (perf record -g, dotnet-trace).
            var variant = Variants(kernel, destination, crowded: false).First(v => v.Name.Contains(loop, StringComparison.OrdinalIgnoreCase));
            var seconds = IntArg(args, "--seconds", 20);
            Console.WriteLine($"looping '{variant.Name}' for {seconds} s");
            var clock = Stopwatch.StartNew();
            long count = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                await variant.Body();
                count++;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} connects, {clock.Elapsed.TotalMicroseconds / count:F1} µs each"));
            return 0;
        }

        if (only is null or "idle")
        {
            Console.WriteLine();
            Console.WriteLine("== 0 connections open to the destination ==");
            await MeasureAsync(Select(Variants(kernel, destination, crowded: false), args), rounds, perRound, args.Contains("--interleave"));
        }

        if (only is null or "idle" or "micro")
        {
            StageMicroLoops(kernel, destination, only == "micro" ? 20 : 1);
        }

        if (crowd > 0 && only is null or "crowd")
        {
            var sockets = OpenCrowd(destination, crowd, server);
            try
            {
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== {sockets.Count:N0} plain connections open to the destination =="));
                await MeasureAsync(Select(Variants(kernel, destination, crowded: true), args), rounds, perRound, args.Contains("--interleave"));
            }
            finally
            {
                foreach (var socket in sockets)
                {
                    RawSocket.CloseAbortive(socket);
                }
            }
        }

        return 0;
    }

    private static List<Variant> Variants(KernelSettings kernel, IPEndPoint destination, bool crowded)
    {
        var systemRange = kernel.PortRange;
        var direct = new SocketConnector(kernel, poolRange: null, connectDirectly: true);
        var runtime = new SocketConnector(kernel, poolRange: null, connectDirectly: false);
        var pool = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive });
        var bare = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive, MaxConnectAttempts = 1 });
        var fourOptions = new TuplePoolOptions { CloseMode = CloseMode.Abortive };
        foreach (var source in s_fourSources)
        {
            fourOptions.SourceAddresses.Add(source);
        }

        var four = new SocketPool(fourOptions);

        // The pool as it was before the direct connect: the same options, the connector going through ConnectAsync.
        var before = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive }, null, null, null, runtime, null, kernel);
        var pipeline = pool.Opener.CreatePipeline(destination);
        IReadOnlyList<IPEndPoint> addresses = [destination];
        var variants = new List<Variant>();
        if (!crowded)
        {
            variants.Add(new("socket() + RST close, no connect", () => { RawSocket.CloseAbortive(RawSocket.CreateTcp()); return default; }));
            variants.Add(new("  + IP_LOCAL_PORT_RANGE (system range)", () =>
            {
                var socket = RawSocket.CreateTcp();
                RawSocket.SetLocalPortRange(socket, systemRange);
                RawSocket.CloseAbortive(socket);
                return default;
            }));
            variants.Add(new("  + NO_PORT + bind(127.0.0.2, 0)", () =>
            {
                var socket = RawSocket.CreateTcp();
                RawSocket.SetLocalPortRange(socket, systemRange);
                SocketOptions.TrySetBindAddressNoPort(socket);
                socket.Bind(new IPEndPoint(s_fourSources[0], 0));
                RawSocket.CloseAbortive(socket);
                return default;
            }));
            variants.Add(new("blocking Connect (kernel reference)", () =>
            {
                var socket = RawSocket.CreateTcp();
                socket.Connect(destination);
                RawSocket.CloseAbortive(socket);
                return default;
            }));
            variants.Add(new("FLOOR Socket.ConnectAsync", () => ConnectOnce.RawAsync(destination, range: null), IsFloor: true));
        }
        else
        {
            variants.Add(new("plain Socket.ConnectAsync (even/odd search)", () => ConnectOnce.RawAsync(destination, range: null)));
            variants.Add(new("blocking Connect + range (kernel reference)", () =>
            {
                var socket = RawSocket.CreateTcp();
                RawSocket.SetLocalPortRange(socket, systemRange);
                socket.Connect(destination);
                RawSocket.CloseAbortive(socket);
                return default;
            }));
            variants.Add(new("FLOOR ConnectAsync + IP_LOCAL_PORT_RANGE", () => ConnectOnce.RawAsync(destination, systemRange), IsFloor: true));
        }

        variants.Add(new("connector via runtime ConnectAsync", () => ConnectOnce.ConnectorAsync(runtime, destination)));
        variants.Add(new("connector direct (internal)", () => ConnectOnce.ConnectorAsync(direct, destination)));
        variants.Add(new("connector + endpoints read (getsockname/getpeername)", () => ConnectorWithEndpointsAsync(direct, destination)));
        variants.Add(new("connector in the Polly pipeline (retry + timeout)", () => PipelineAsync(pipeline, direct, destination)));
        variants.Add(new("opener: selection + ledger + pipeline", () => OpenerAsync(pool, pipeline, addresses)));
        variants.Add(new("POOL AcquireAsync, MaxConnectAttempts = 1", () => ConnectOnce.PoolAsync(bare, destination)));
        variants.Add(new("POOL AcquireAsync (defaults)", () => ConnectOnce.PoolAsync(pool, destination), IsPool: true));
        variants.Add(new("pool before: connector via ConnectAsync", () => ConnectOnce.PoolAsync(before, destination)));
        if (!crowded)
        {
            variants.Add(new("POOL AcquireAsync, 4 sources (bind)", () => ConnectOnce.PoolAsync(four, destination)));

            // The same pool with a NAT budget charged beside the local tuple (NatNewConnectionBenchmark's options).
            var natOptions = NatNewConnectionBenchmark.Options(nat: true);
            natOptions.LocalPortRange = null;
            var nat = new SocketPool(natOptions);
            var fleet = new SocketPool(natOptions, new NatNewConnectionBenchmark.LocalGrant());
            variants.Add(new("POOL AcquireAsync, Nat (destination listed)", () => ConnectOnce.PoolAsync(nat, destination)));
            variants.Add(new("POOL AcquireAsync, Nat + fleet grant", () => ConnectOnce.PoolAsync(fleet, destination)));
        }

        return variants;
    }

    /// <summary><c>--variants a,b</c>: only the variants whose names contain one of the words (the floor always).</summary>
    private static List<Variant> Select(List<Variant> variants, string[] args)
    {
        var wanted = StringArg(args, "--variants")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return wanted is null
            ? variants
            : variants.Where(v => v.IsFloor || wanted.Any(w => v.Name.Contains(w, StringComparison.OrdinalIgnoreCase))).ToList();
    }

    private static async ValueTask ConnectorWithEndpointsAsync(SocketConnector connector, IPEndPoint destination)
    {
        var socket = await connector.ConnectAsync(IPAddress.Any, destination, CancellationToken.None);
        _ = socket.LocalEndPoint;
        _ = socket.RemoteEndPoint;
        RawSocket.CloseAbortive(socket);
    }

    private static async ValueTask PipelineAsync(ResiliencePipeline pipeline, SocketConnector connector, IPEndPoint destination)
    {
        var socket = await pipeline.ExecuteAsync(
            static (state, ct) => state.connector.ConnectAsync(IPAddress.Any, state.destination, ct),
            (connector, destination),
            CancellationToken.None);
        RawSocket.CloseAbortive(socket);
    }

    private static async ValueTask OpenerAsync(SocketPool pool, ResiliencePipeline pipeline, IReadOnlyList<IPEndPoint> addresses)
    {
        using var opened = await pool.Opener.OpenAsync(addresses, pipeline, CancellationToken.None)
            ?? throw new InvalidOperationException("No budget.");
        // Dispose closes with RST and frees the charge, as the other rows' CloseAbortive does.
    }

    /// <param name="interleave">
    /// One connect of each variant in turn instead of a block of each: what follows an async
    /// connect (the epoll thread and a thread-pool worker still awake) then hits the next variant.
    /// </param>
    private static async Task MeasureAsync(List<Variant> variants, int rounds, int perRound, bool interleave = false)
    {
        // Warm-up, then a pause: tiered compilation re-compiles hot methods ~100 ms after their
        // first calls, and the pool's code is not precompiled like the framework's.
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var variant in variants)
            {
                for (var i = 0; i < 200; i++)
                {
                    await variant.Body();
                }
            }

            await Task.Delay(500);
        }

        var samples = variants.Select(_ => new List<double>()).ToArray();
        var roundMedians = variants.Select(_ => new List<double>()).ToArray();
        var allocated = new long[variants.Count];
        var cpu = new double[variants.Count];
        var buffer = new double[perRound];
        if (interleave)
        {
            Console.WriteLine("(interleaved: one connect of each variant in turn; no CPU or allocation columns)");
            var times = variants.Select(_ => new double[perRound]).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < perRound; i++)
                {
                    for (var k = 0; k < variants.Count; k++)
                    {
                        var v = (k + i) % variants.Count;
                        var start = Stopwatch.GetTimestamp();
                        await variants[v].Body();
                        times[v][i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    }
                }

                for (var v = 0; v < variants.Count; v++)
                {
                    samples[v].AddRange(times[v]);
                    roundMedians[v].Add(Median(times[v]));
                }
            }
        }

        for (var round = 0; round < (interleave ? 0 : rounds); round++)
        {
            for (var k = 0; k < variants.Count; k++)
            {
                var v = (k + round) % variants.Count;
                var body = variants[v].Body;
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var cpuBefore = CpuClock.ProcessMicroseconds();
                for (var i = 0; i < perRound; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await body();
                    buffer[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }

                cpu[v] += CpuClock.ProcessMicroseconds() - cpuBefore;
                allocated[v] += GC.GetTotalAllocatedBytes(precise: true) - before;
                samples[v].AddRange(buffer);
                roundMedians[v].Add(Median(buffer));
            }
        }

        var floor = variants.FindIndex(v => v.IsFloor);
        var floorMedian = Median([.. samples[floor]]);
        var floorAlloc = allocated[floor] / (double)(rounds * perRound);
        var floorCpu = cpu[floor] / (rounds * perRound);
        Console.WriteLine("| variant | median µs | p10 | p90 | round medians | vs floor | process CPU µs | vs floor | B/connect | vs floor |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (var v = 0; v < variants.Count; v++)
        {
            var all = samples[v].ToArray();
            Array.Sort(all);
            var medians = roundMedians[v].ToArray();
            Array.Sort(medians);
            var bytes = allocated[v] / (double)(rounds * perRound);
            var cpuPer = cpu[v] / (rounds * perRound);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {variants[v].Name} | {all[all.Length / 2]:F1} | {all[all.Length / 10]:F1} | {all[all.Length * 9 / 10]:F1} | {medians[0]:F1}–{medians[^1]:F1} | {all[all.Length / 2] / floorMedian:F2}× | {cpuPer:F1} | {cpuPer / floorCpu:F2}× | {bytes:F0} | {bytes - floorAlloc:+0;-0} |"));
        }
    }

    /// <summary>The sub-microsecond stages, timed in tight loops (ns per operation).</summary>
    private static void StageMicroLoops(KernelSettings kernel, IPEndPoint destination, int repeat)
    {
        const int N = 200_000;
        var time = TimeProvider.System;
        var options = new TuplePoolOptions();
        var budget = new TupleBudget(kernel, options, time);
        var selector = new SourceSelector(options.SourceAddresses, options.SourceSelection, options.SourceQuarantine, budget, time);
        var fourSelector = new SourceSelector(s_fourSources, options.SourceSelection, options.SourceQuarantine, budget, time);
        var pool = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive });
        var retryTimeout = pool.Opener.CreatePipeline(destination);
        var empty = new ResiliencePipelineBuilder().Build();

        Console.WriteLine();
        Console.WriteLine("| stage, tight loop | wall ns/op | thread CPU ns/op | B/op |");
        Console.WriteLine("|---|---:|---:|---:|");
        Loop("selection + ledger reserve/release, kernel source", () =>
        {
            selector.TryReserve(destination, null, out _)!.Release(ReleaseKind.Free);
        });
        Loop("selection + ledger reserve/release, 4 sources", () =>
        {
            fourSelector.TryReserve(destination, null, out _)!.Release(ReleaseKind.Free);
        });
        Loop("Polly empty pipeline ExecuteAsync (sync callback)", () =>
        {
            _ = empty.ExecuteAsync(static (s, ct) => ValueTask.FromResult(s), 1, CancellationToken.None).Result;
        });
        Loop("Polly retry + timeout ExecuteAsync (sync callback)", () =>
        {
            _ = retryTimeout.ExecuteAsync(static (s, ct) => ValueTask.FromResult(s), 1, CancellationToken.None).Result;
        });

        void Loop(string name, Action body)
        {
            for (var i = 0; i < 10_000; i++)
            {
                body();
            }

            for (var r = 0; r < repeat; r++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var cpuStart = CpuClock.ThreadNanoseconds();
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < N; i++)
                {
                    body();
                }

                var ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / N;
                var cpuNs = (CpuClock.ThreadNanoseconds() - cpuStart) / (double)N;
                var bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)N;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {ns:F0} | {cpuNs:F0} | {bytes:F0} |"));
            }
        }
    }

    private static List<Socket> OpenCrowd(IPEndPoint destination, int size, ChildServer server)
    {
        var crowd = new List<Socket>(size);
        var clock = Stopwatch.StartNew();
        while (crowd.Count < size)
        {
            var socket = RawSocket.CreateTcp();
            RawSocket.SetAbortiveClose(socket);
            socket.Connect(destination);
            crowd.Add(socket);
        }

        if (!server.WaitForCount(size, TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"The server child holds {server.Count()} connections, not {size}.");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"crowd of {size:N0} plain connections open in {clock.Elapsed.TotalSeconds:F1} s"));
        return crowd;
    }

    private static double Median(double[] values)
    {
        var copy = (double[])values.Clone();
        Array.Sort(copy);
        return copy[copy.Length / 2];
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringArg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private sealed record Variant(string Name, Func<ValueTask> Body, bool IsFloor = false, bool IsPool = false);
}
