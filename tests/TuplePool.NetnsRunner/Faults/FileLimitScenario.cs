using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

// The open-file limit reached: a clear error, nothing reserved or open left behind, the pool
// serving again once descriptors are free.
//
// Two processes, because a .NET process whose descriptor table is full is fragile in ways that
// have nothing to do with the pool:
// - the runtime starts a thread with descriptors of its own (the new thread opens
//   /sys/devices/system/cpu/possible and a pipe before it runs), so at EMFILE a thread cannot
//   start; the thread pool meets that as an OutOfMemoryException from Thread.StartCore inside
//   WorkerThread.MaybeAddWorkingWorker, which nothing catches: the process printed
//   "Out of memory." and aborted (exit 134) whenever the pool wanted one more worker while the
//   limit held. The tiered-compilation worker and the background GC thread are started on demand
//   the same way;
// - an echo server in the same process shares the budget and meets EMFILE at accept.
// So the server stays here, with the descriptors it needs, and the pool runs alone in a child
// process ("fd-limit-client") that starts every thread it may need before it lowers its own
// RLIMIT_NOFILE, and runs without the threads the runtime would start on demand (no tiering, no
// background GC). The child's checks become this report's checks.
internal static partial class FaultScenarios
{
    private const int FileLimitPort = 20001;

    /// <summary>Descriptors the client may open past its baseline before it meets EMFILE.</summary>
    private const int FileBudget = 40;

    private const int ClientThreadPoolThreads = 8;

    public static async Task FileLimitAsync(Report report)
    {
        await using var server = new EchoServer(new IPEndPoint(Server, FileLimitPort));
        // Started the way this process was: by the dotnet host with the runner's dll, or by its apphost.
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(FaultScenarios).Assembly.Location);
        }

        start.ArgumentList.Add("fd-limit-client");

        // Threads the runtime would otherwise start on demand, possibly while the limit holds.
        start.Environment["DOTNET_TieredCompilation"] = "0"; // no tiering worker (its failed start rethrows OOM into the caller)
        start.Environment["DOTNET_gcConcurrent"] = "0"; // no background GC thread
        start.Environment["DOTNET_ThreadPool_ThreadTimeoutMs"] = "-1"; // started workers never retire

        using var child = Process.Start(start) ?? throw new InvalidOperationException("the fd-limit client did not start");
        var output = child.StandardOutput.ReadToEndAsync();
        var error = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw new TimeoutException($"the fd-limit client ran over 2 minutes; stderr: {await error}");
        }

        var json = (await output).Split('\n').LastOrDefault(l => l.StartsWith('{'));
        var stderr = (await error).Trim();
        report.Check(
            "the client process ran to its report (no crash at the limit)", // exit 1: its scenario threw, which its report says
            json is not null && child.ExitCode is 0 or 1,
            $"exit {child.ExitCode}{(stderr.Length == 0 ? "" : "; stderr: " + stderr[..Math.Min(stderr.Length, 2000)])}");
        if (json is not null)
        {
            report.Include(JsonNode.Parse(json)!.AsObject());
        }
    }

    public static async Task FileLimitClientAsync(Report report)
    {
        var destination = new IPEndPoint(Server, FileLimitPort);
        await using var pool = Pool(o =>
        {
            o.SourceAddresses = [S2];
            o.CloseMode = CloseMode.Abortive;
            o.LocalPortRange = new PortRange(40000, 40999);
        });

        // Warm up: the socket engine (epoll, its pipe), the timer thread, the code of the connect
        // and the error path, so the runtime's own lazily opened descriptors are in the baseline.
        var warm = await pool.AcquireAsync(destination);
        await EchoAsync(warm);
        warm.Invalidate();
        warm.Dispose();
        StartThreadPoolWorkers(ClientThreadPoolThreads);
        report.Figure("threadPoolThreads", ThreadPool.ThreadCount);

        var threadsBefore = ProcessThreads();
        var baseline = OpenFiles();
        var baselineSockets = OpenSockets();
        var (soft, hard) = Limits.Get();
        Limits.Set((ulong)(baseline + FileBudget), hard);

        var held = new List<SocketLease>();
        Exception? failure = null;
        int active;
        try
        {
            for (var i = 0; i < 500 && failure is null; i++)
            {
                try
                {
                    held.Add(await pool.AcquireAsync(destination));
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }
        }
        finally
        {
            active = pool.GetSnapshot().TotalActive;
            foreach (var lease in held)
            {
                lease.Invalidate();
                lease.Dispose();
            }

            Limits.Set(soft, hard);
        }

        report.Figure("leasesAtLimit", held.Count);
        report.Figure("threads", $"{threadsBefore} before the limit, {ProcessThreads()} after");
        report.Check(
            "the limit surfaces as SocketException(TooManyOpenSockets), not as a budget refusal",
            failure is SocketException { SocketErrorCode: SocketError.TooManyOpenSockets } and not TupleBudgetExhaustedException,
            failure is null ? "no error within 500 connections" : Describe(failure));
        report.Check("the failed attempt holds no budget", active == held.Count, $"active {active}, leases {held.Count}");

        // The budget is this process's alone (the server lives in the parent) and each lease costs
        // one descriptor, so nearly all of it became leases. A connect that kept a second
        // descriptor per connection, or leaked one per attempt, would stop near half.
        report.Check(
            $"one descriptor per connection: the {FileBudget} free descriptors became about as many leases",
            held.Count >= FileBudget - 4 && held.Count <= FileBudget,
            $"{held.Count} leases");

        // Sockets, not all descriptors: the runtime may still open a few of its own lazily.
        report.Check("every socket closed", await WaitAsync(() => OpenSockets() <= baselineSockets), $"baseline {baselineSockets}, now {OpenSockets()}");
        report.Check("nothing left active", pool.GetSnapshot().TotalActive == 0, $"{pool.GetSnapshot().TotalActive}");
        await using var again = await pool.AcquireAsync(destination);
        report.Check("the pool serves again", await EchoAsync(again), "");
    }

    /// <summary>
    /// Starts <paramref name="count"/> thread-pool workers and caps the pool at them, so the pool
    /// never starts another thread (which needs descriptors) while the limit holds.
    /// </summary>
    private static void StartThreadPoolWorkers(int count)
    {
        if (!ThreadPool.SetMinThreads(count, count))
        {
            throw new InvalidOperationException($"ThreadPool.SetMinThreads({count}) refused");
        }

        // Each worker holds its item until all have started: the pool must run them side by side.
        var started = new CountdownEvent(count);
        var release = new ManualResetEventSlim();
        for (var i = 0; i < count; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static state =>
                {
                    state.started.Signal();
                    state.release.Wait();
                },
                (started, release),
                preferLocal: false);
        }

        if (!started.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"only {count - started.CurrentCount} of {count} thread-pool workers started");
        }

        release.Set();
        if (!ThreadPool.SetMaxThreads(count, count))
        {
            throw new InvalidOperationException($"ThreadPool.SetMaxThreads({count}) refused");
        }
    }

    private static int OpenFiles() => Directory.GetFiles("/proc/self/fd").Length;

    private static int OpenSockets()
        => Directory.GetFiles("/proc/self/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false;
            }
        });

    private static int ProcessThreads() => Directory.GetDirectories("/proc/self/task").Length;
}

internal static partial class Limits
{
    private const int RlimitNoFile = 7;

    public static (ulong Soft, ulong Hard) Get()
    {
        if (GetRLimit(RlimitNoFile, out var limit) != 0)
        {
            throw new InvalidOperationException($"getrlimit failed: {Marshal.GetLastPInvokeError()}");
        }

        return (limit.Current, limit.Maximum);
    }

    public static void Set(ulong soft, ulong hard)
    {
        var limit = new RLimit { Current = soft, Maximum = hard };
        if (SetRLimit(RlimitNoFile, ref limit) != 0)
        {
            throw new InvalidOperationException($"setrlimit failed: {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
