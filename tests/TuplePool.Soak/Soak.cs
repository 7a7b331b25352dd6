using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Soak;

internal sealed record Lane(string Name, SocketPool Pool, PortRange Slice, IPAddress[] Sources, CloseMode CloseMode)
{
    public static Lane Create(string name, CloseMode closeMode, PortRange slice, params string[] sources)
    {
        var addresses = sources.Select(IPAddress.Parse).ToArray();
        var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = addresses,
            LocalPortRange = slice,
            CloseMode = closeMode,
            MaxIdlePerDestination = 8,
            IdleTimeout = TimeSpan.FromSeconds(2),
            AcquireTimeout = TimeSpan.FromSeconds(2),
        });
        return new Lane(name, pool, slice, addresses, closeMode);
    }
}

internal sealed class Tally
{
    private long _requests;
    private long _typed;
    private long _cancelled;
    private long _untyped;

    public ConcurrentQueue<string> FirstUntyped { get; } = new();

    public long Requests => Interlocked.Read(ref _requests);

    public long Typed => Interlocked.Read(ref _typed);

    public long Cancelled => Interlocked.Read(ref _cancelled);

    public long Untyped => Interlocked.Read(ref _untyped);

    public void Request() => Interlocked.Increment(ref _requests);

    public void Refused() => Interlocked.Increment(ref _typed);

    public void Cancel() => Interlocked.Increment(ref _cancelled);

    public void Error(Exception e)
    {
        Interlocked.Increment(ref _untyped);
        if (FirstUntyped.Count < 10)
        {
            FirstUntyped.Enqueue(e.GetType().Name + ": " + e.Message);
        }
    }
}

internal static class Work
{
    public static async Task LoopAsync(int seed, Lane[] lanes, int[] echoPorts, HttpClient http, Tally tally, CancellationToken stop)
    {
        var random = new Random(seed);
        var buffer = new byte[64];
        while (!stop.IsCancellationRequested)
        {
            var destination = new IPEndPoint(IPAddress.Loopback, echoPorts[random.Next(echoPorts.Length)]);
            var kind = random.Next(100);
            try
            {
                if (kind < 15)
                {
                    tally.Request();
                    await http.GetStringAsync(new Uri("/", UriKind.Relative), stop);
                    continue;
                }

                var lane = kind < 70 ? lanes[0] : lanes[1];
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
                var cancelling = kind >= 90;
                if (cancelling)
                {
                    cancel.CancelAfter(random.Next(0, 3));
                }

                tally.Request();
                var lease = await lane.Pool.AcquireAsync(destination, cancel.Token);
                try
                {
                    await lease.Socket.SendAsync(buffer.AsMemory(0, 16), SocketFlags.None, stop);
                    var read = 0;
                    while (read < 16)
                    {
                        var n = await lease.Socket.ReceiveAsync(buffer.AsMemory(read, 16 - read), SocketFlags.None, stop);
                        if (n == 0)
                        {
                            throw new IOException("the echo server closed");
                        }

                        read += n;
                    }

                    // Churn: a third of the graceful lane's and all of the abortive lane's leases close.
                    if (lane.CloseMode == CloseMode.Abortive || random.Next(3) == 0)
                    {
                        lease.Invalidate();
                    }
                }
                finally
                {
                    lease.Dispose();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                tally.Cancel();
            }
            catch (TupleBudgetExhaustedException)
            {
                tally.Refused();
            }
            catch (HttpRequestException e) when (e.InnerException is TupleBudgetExhaustedException)
            {
                tally.Refused();
            }
            catch (Exception e)
            {
                tally.Error(e);
            }
        }
    }
}

/// <summary>Process figures and each lane's ledger against the kernel's sockets on its slice.</summary>
internal sealed record Sample(TimeSpan At, long Requests, long Typed, long Untyped, long RssKiB, long GcHeapKiB, int Descriptors, string Lanes, int Drift)
{
    public static Sample Take(Lane[] lanes, Tally tally, Stopwatch watch, bool settled = false)
    {
        var tcpTwReuse = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/tcp_tw_reuse").Trim(), CultureInfo.InvariantCulture);
        var parts = new List<string>();
        var drift = 0;
        foreach (var lane in lanes)
        {
            var snapshot = lane.Pool.GetSnapshot();
            var (open, timeWait) = Kernel(lane);

            // With tcp_tw_reuse 1 (or 2 on loopback, as here) the kernel lets a TIME_WAIT tuple be
            // taken over after 1 s and the ledger stops charging it then: only a TIME_WAIT younger
            // than that is one the kernel holds against us, and `ss` cannot tell ages that fine.
            // So with reuse, TIME_WAIT drift is read after a settle of over 1 s with no closes,
            // when the kernel holds none against us: the ledger must charge none. With 0 every one counts.
            var holdsAll = tcpTwReuse == 0;
            var laneDrift = Math.Abs(snapshot.TotalActive + snapshot.TotalIdle - open) + (holdsAll ? Math.Abs(snapshot.TotalTimeWait - timeWait) : settled ? snapshot.TotalTimeWait : 0);
            drift += laneDrift;
            parts.Add($"[{lane.Name}: pool active {snapshot.TotalActive} idle {snapshot.TotalIdle} tw {snapshot.TotalTimeWait} | ss open {open} tw {timeWait} | drift {laneDrift}]");
        }

        return new Sample(watch.Elapsed, tally.Requests, tally.Typed, tally.Untyped, ReadRssKiB(), GC.GetGCMemoryInfo().HeapSizeBytes / 1024, Directory.GetFiles("/proc/self/fd").Length, string.Join(" ", parts), drift);
    }

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"t={At.TotalSeconds:0}s requests={Requests} typed={Typed} untyped={Untyped} rss={RssKiB / 1024.0:0.0}MiB gcheap={GcHeapKiB / 1024.0:0.0}MiB fds={Descriptors} drift={Drift} {Lanes}");

    // `ss`: the lane's client sockets (its sources, its port slice), TIME_WAIT apart from the rest.
    private static (int Open, int TimeWait) Kernel(Lane lane)
    {
        var open = 0;
        var timeWait = 0;
        var filter = $"( sport >= :{lane.Slice.First} and sport <= :{lane.Slice.Last} )";
        var start = new ProcessStartInfo("ss", ["-H", "-t", "-a", "-n", filter]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var ss = Process.Start(start)!;
        var text = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5 || !lane.Sources.Any(s => fields[3].StartsWith(s + ":", StringComparison.Ordinal)))
            {
                continue;
            }

            if (fields[0] == "TIME-WAIT")
            {
                timeWait++;
            }
            else if (fields[0] != "LISTEN")
            {
                open++;
            }
        }

        return (open, timeWait);
    }

    private static long ReadRssKiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
