using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

// Client port slices of this class: 33300-33349 the churn, 33350-33749 the TIME_WAIT that stays,
// 33750-33899 the background TIME_WAIT (from eight other sources).

/// <summary>
/// Both backends read one tuple while connections on it open and close, among enough other
/// sockets that <c>/proc/net/tcp</c> takes many pages. The real number on the tuple is known at
/// every moment: the TIME_WAIT sockets that stay, plus at most churn + 1 open ones.
/// </summary>
public sealed class CensusChurnTests
{
    private const int Stable = 400;
    private const int Churn = 10;
    private const int Reads = 25;
    private static readonly PortRange ChurnSlice = new(33300, 33349);
    private static readonly PortRange StableSlice = new(33350, 33749);
    private static readonly PortRange BackgroundSlice = new(33750, 33899);

    [Fact]
    public async Task Churn_NetlinkNeverCountsMoreThanThereAre_NorDoesDedupedProc()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Both backends read the Linux kernel.");
        var probe = SockDiagCensus.Default.Probe();
        Assert.SkipUnless(probe.IsOk, $"This host refuses NETLINK_SOCK_DIAG ({probe.Detail}).");
        Assert.SkipUnless(KernelSettings.Current.SupportsLocalPortRange, "Keeping to the test's port slices needs IP_LOCAL_PORT_RANGE (Linux 6.3).");
        using var listener = LoopbackSockets.Listen(IPAddress.Loopback, backlog: 512);
        var destination = listener.EndPoint();
        var source = IPAddress.Parse("127.0.0.60");
        var tuple = new CensusFilter(source, destination, TcpStateMask.Connections, null);
        var netlink = new SockDiagCensus();
        var proc = new ProcNetTcpCensus(ProcFileSystem.Default);

        // The sockets that stay: TIME_WAIT from our own closes, on the tuple and on eight others.
        CloseFirst(listener, source, destination, StableSlice, Stable);
        for (var other = 61; other <= 68; other++)
        {
            CloseFirst(listener, IPAddress.Parse($"127.0.0.{other}"), destination, BackgroundSlice, BackgroundSlice.Count);
        }

        var stable = LoopbackSockets.WaitFor(
            () => netlink.Count(new CensusFilter(source, destination, TcpStateMask.TimeWait, StableSlice), out var n).IsOk ? n : -1,
            n => n == Stable);
        Assert.Equal(Stable, stable);

        using var stop = new CancellationTokenSource();
        var churned = Task.Run(() => ChurnUntil(listener, source, destination, stop.Token));
        var reads = 0;
        var netlinkLow = int.MaxValue;
        var netlinkHigh = 0;
        var procHigh = 0;
        var procRawHigh = 0;
        var procRepeats = 0;
        try
        {
            // A number of reads rather than a time: on a busy machine a read can take a while, and
            // each one must overlap the churn. The bound only ends a run that stalls.
            var started = TimeProvider.System.GetTimestamp();
            while (reads < Reads && TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
            {
                Assert.True(netlink.Count(tuple, out var byNetlink).IsOk);
                Assert.True(proc.Count(tuple, out var byProc).IsOk);
                var (raw, repeats) = CountProcLines(tuple);
                netlinkLow = Math.Min(netlinkLow, byNetlink);
                netlinkHigh = Math.Max(netlinkHigh, byNetlink);
                procHigh = Math.Max(procHigh, byProc);
                procRawHigh = Math.Max(procRawHigh, raw);
                procRepeats += repeats;
                reads++;
            }
        }
        finally
        {
            await stop.CancelAsync();
        }

        var cycles = await churned;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{reads} reads during {cycles} open/close cycles; real count {Stable}..{Stable + Churn + 1}: netlink {netlinkLow}..{netlinkHigh}, " +
            $"/proc deduped up to {procHigh}, /proc raw up to {procRawHigh} ({procRepeats} repeated lines of the whole table seen in all reads)");
        Assert.True(cycles >= 100, $"only {cycles} churn cycles ran");
        Assert.True(reads >= 5, $"only {reads} reads in 30 s");
        Assert.InRange(netlinkHigh, Stable, Stable + Churn + 1);
        Assert.True(netlinkLow >= Stable, $"netlink missed sockets that never moved: {netlinkLow} of {Stable}");
        Assert.InRange(procHigh, 0, Stable + Churn + 1);
        Assert.Equal(0, netlink.RejectedSockets);
    }

    // count connections on one tuple, each closed by us first, so each leaves a TIME_WAIT socket
    // and no descriptor.
    private static void CloseFirst(Socket listener, IPAddress source, IPEndPoint destination, PortRange slice, int count)
    {
        var buffer = new byte[1];
        for (var i = 0; i < count; i++)
        {
            using var client = LoopbackSockets.Connect(source, destination, slice);
            using var server = listener.Accept();
            client.Shutdown(SocketShutdown.Both);
            Assert.Equal(0, server.Receive(buffer)); // our FIN has arrived: the server's close completes the handshake
        }
    }

    // Keeps Churn connections open on the tuple: opens one, then resets the oldest (no TIME_WAIT),
    // so at most Churn + 1 exist at any moment.
    private static int ChurnUntil(Socket listener, IPAddress source, IPEndPoint destination, CancellationToken stop)
    {
        var open = new Queue<(Socket Client, Socket Server)>();
        var cycles = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = LoopbackSockets.Connect(source, destination, ChurnSlice);
                open.Enqueue((client, listener.Accept()));
                if (open.Count > Churn)
                {
                    var (oldClient, oldServer) = open.Dequeue();
                    LoopbackSockets.DisposeAbortively([oldClient, oldServer]);
                }

                cycles++;
            }
        }
        finally
        {
            while (open.TryDequeue(out var pair))
            {
                LoopbackSockets.DisposeAbortively([pair.Client, pair.Server]);
            }
        }

        return cycles;
    }

    // The tuple's lines in one read of /proc/net/tcp{,6} as printed, repeats and all, and how
    // many lines of the whole table repeated one read earlier in the same read.
    private static (int OnTuple, int Repeats) CountProcLines(in CensusFilter tuple)
    {
        var onTuple = 0;
        var seen = new HashSet<SocketIdentity>();
        var repeats = 0;
        foreach (var path in (ReadOnlySpan<string>)[ProcNetTcpCensus.TcpPath, ProcNetTcpCensus.Tcp6Path])
        {
            foreach (var line in File.ReadAllText(path).AsSpan().EnumerateLines())
            {
                if (KernelCensusParser.TryParseRecord(line, BitConverter.IsLittleEndian, out var record))
                {
                    onTuple += tuple.Matches(record) ? 1 : 0;
                    repeats += seen.Add(SocketIdentity.Of(record)) ? 0 : 1;
                }
            }
        }

        return (onTuple, repeats);
    }
}
