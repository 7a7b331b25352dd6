using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Benchmarks;

/// <summary>
/// <c>--reaper-probe [--known 100000] [--seconds 30] [--rate 1000]</c>: does the reaper keep up at
/// scale? The pool first learns <c>--known</c> destinations (127.1.0.0 onwards, each connected
/// once and closed with RST, so each stays known for <see cref="TuplePoolOptions.EmptyDestinationTimeout"/>),
/// then opens <c>--rate</c> new destinations a second (127.64.0.0 onwards), each connection
/// returned idle, with <see cref="TuplePoolOptions.IdleTimeout"/> 5 s. Once a second it prints
/// the pool's idle connections against what the timeout allows (rate × 5 s, plus one sweep's
/// worth), and the CPU time of one <see cref="SocketPool.GetSnapshot"/> (on the calling thread, the least of five)
/// over the known destinations against the tuples it reports (those in use).
/// </summary>
/// <remarks>
/// One listener on 0.0.0.0 takes every 127/8 address: Linux routes all of 127.0.0.0/8 to lo.
/// A plain Stopwatch harness, not BenchmarkDotNet: what is measured is a level over time.
/// </remarks>
internal static class ReaperProbe
{
    public const string Switch = "--reaper-probe";

    private const int ListenPort = 17900;

    public static async Task<int> RunAsync(string[] args)
    {
        var known = Option(args, "--known", 100_000);
        var seconds = Option(args, "--seconds", 30);
        var rate = Option(args, "--rate", 1_000);
        var idleTimeout = TimeSpan.FromSeconds(5);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, ListenPort));
        listener.Listen(4096);
        using var stop = new CancellationTokenSource();
        var accepting = AcceptAsync(listener, stop.Token);

        await using var pool = new SocketPool(new TuplePoolOptions
        {
            CloseMode = CloseMode.Abortive,
            ValidateOnAcquire = false,
            IdleTimeout = idleTimeout,
            EmptyDestinationTimeout = TimeSpan.FromMinutes(30),
        });

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < known; i++)
        {
            var lease = await pool.AcquireAsync(Destination(1, i));
            lease.Invalidate();
            lease.Dispose();
        }

        Console.WriteLine($"learned {known:N0} destinations in {clock.Elapsed.TotalSeconds:F1} s; now {rate:N0} new destinations/s for {seconds} s, IdleTimeout {idleTimeout.TotalSeconds} s");
        Console.WriteLine("t(s)  opened  idle  allowed  known  snapshot(ms CPU)  tuples");
        var allowed = (int)(rate * (idleTimeout.TotalSeconds + 1)); // what the timeout keeps, plus one sweep (1 s)
        var worst = 0;
        var next = 0;
        clock.Restart();
        for (var second = 1; second <= seconds; second++)
        {
            // rate connections spread over the second, each to a destination never seen before.
            var until = TimeSpan.FromSeconds(second);
            while (next < rate * second)
            {
                var due = TimeSpan.FromSeconds((double)next / rate);
                if (clock.Elapsed < due)
                {
                    await Task.Delay(due - clock.Elapsed);
                }

                (await pool.AcquireAsync(Destination(64, next))).Dispose();
                next++;
            }

            if (clock.Elapsed < until)
            {
                await Task.Delay(until - clock.Elapsed);
            }

            // The least of five: a collection or a preemption in one of them is not the snapshot's cost.
            var snapshot = pool.GetSnapshot();
            var snapshotMs = double.MaxValue;
            for (var look = 0; look < 5; look++)
            {
                var cpu = CpuClock.ThreadNanoseconds();
                snapshot = pool.GetSnapshot();
                snapshotMs = Math.Min(snapshotMs, (CpuClock.ThreadNanoseconds() - cpu) / 1e6);
            }
            worst = Math.Max(worst, snapshot.TotalIdle);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{second,4}  {next,6}  {snapshot.TotalIdle,5}  {allowed,7}  {pool.Destinations.Count,6}  {snapshotMs,16:F2}  {snapshot.Tuples.Count,6}"));
        }

        stop.Cancel();
        listener.Close();
        await accepting;
        var kept = worst <= allowed;
        Console.WriteLine($"most idle at once: {worst:N0} (allowed {allowed:N0}): {(kept ? "the reaper kept up" : "the reaper fell behind")}");
        return kept ? 0 : 1;
    }

    /// <summary>127.<paramref name="first"/>.x.y for the <paramref name="index"/>-th destination, x.y from the index.</summary>
    private static IPEndPoint Destination(int first, int index)
        => new(new IPAddress([127, (byte)(first + (index >> 16)), (byte)(index >> 8), (byte)index]), ListenPort);

    private static int Option(string[] args, string name, int fallback)
        => args.SkipWhile(a => a != name).Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(fallback);

    /// <summary>Accepts and holds each connection until its client closes it.</summary>
    private static async Task AcceptAsync(Socket listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(stop);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = HoldAsync(accepted);
        }
    }

    private static async Task HoldAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[1];
            try
            {
                while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None) > 0)
                {
                }
            }
            catch (SocketException)
            {
                // The client's RST.
            }
        }
    }
}
