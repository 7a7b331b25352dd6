using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using TuplePool.Demo.Loopback;
using TuplePool.Platform;

namespace TuplePool.Benchmarks;

/// <summary>
/// The kernel census of one tuple while the machine holds 100,000 other sockets: what the pool
/// pays on a kernel refusal (<c>ConnectionOpener.CountInKernel</c>) and what the ledger will pay
/// to follow the kernel after a close. Baseline: the <c>/proc/net/tcp{,6}</c> reader, the
/// fallback (read both files whole, parse every line, keep the tuple's). Against it: the same
/// question through <c>NETLINK_SOCK_DIAG</c>, filtered in the kernel, as a count (no socket
/// objects) and as the list of the tuple's sockets; and the whole-table snapshot the refusal
/// path read before (<c>Read().CountUsing</c>).
/// </summary>
/// <remarks>
/// <para>
/// 100,000 sockets without 100,000 descriptors (the process may hold 20,000): the setup opens
/// connections from 112 sources (127.1.0.1-112, each over all of the client slice 50100-50999:
/// 100,800 sockets) to a
/// listener below 32768 and closes each from the client first, so each leaves a TIME_WAIT socket
/// that holds no descriptor, for 60 s. That outlives one benchmark case; the next case's setup
/// takes the same four-tuples over (<c>tcp_tw_reuse</c>, 2 by default, applies on loopback), so
/// every case measures a table of the same size. Where reuse is off it waits for them to expire.
/// </para>
/// <para>
/// The tuple asked about: 100 ESTABLISHED connections from 127.0.0.2 to a second listener.
/// 100,000 TIME_WAIT sockets need <c>net.ipv4.tcp_max_tw_buckets</c> above that (131,072 on a
/// machine with 262,144 hash buckets); the setup fails with what it found when the table is short.
/// </para>
/// </remarks>
[MemoryDiagnoser]
public class CensusBenchmark
{
    private const int TupleSockets = 100;

    private static readonly PortRange CrowdPorts = ClientPorts.Census;

    private readonly List<Socket> _held = [];
    private Socket _crowdListener = null!;
    private Socket _tupleListener = null!;
    private IPEndPoint _tuple = null!;
    private IPAddress _tupleSource = null!;
    private CensusFilter _filter;
    private PortRange _searchRange;
    private ProcNetTcpCensus _proc = null!;
    private KernelCensus _procSnapshot = null!;
    private SockDiagCensus _netlink = null!;
    private List<KernelSocket> _found = null!;

    /// <summary>TIME_WAIT sockets in the table besides the tuple's.</summary>
    [Params(100_000)]
    public int OtherSockets { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (!RawSocket.SupportsLocalPortRange(out var reason))
        {
            throw new InvalidOperationException($"The crowd keeps to its client slice with IP_LOCAL_PORT_RANGE: {reason}.");
        }

        _netlink = new SockDiagCensus();
        if (_netlink.Probe() is { IsOk: false } refused)
        {
            throw new InvalidOperationException($"This host refuses NETLINK_SOCK_DIAG ({refused.Detail}): nothing to compare.");
        }

        _crowdListener = ListenerPorts.Bind(IPAddress.Loopback, ClientPorts.FirstServerPort + 200, backlog: 1024);
        var crowd = (IPEndPoint)_crowdListener.LocalEndPoint!;
        FillWithTimeWait(crowd);

        _tupleListener = ListenerPorts.Bind(IPAddress.Loopback, ClientPorts.FirstServerPort + 300, backlog: TupleSockets);
        _tuple = (IPEndPoint)_tupleListener.LocalEndPoint!;
        _tupleSource = IPAddress.Parse("127.0.0.2");
        for (var i = 0; i < TupleSockets; i++)
        {
            var client = RawSocket.CreateTcp();
            _held.Add(client);
            client.Bind(new IPEndPoint(_tupleSource, 0));
            client.Connect(_tuple);
            _held.Add(_tupleListener.Accept());
        }

        _searchRange = KernelSettings.Read(ProcFileSystem.Default).PortRange;
        _filter = new CensusFilter(_tupleSource, _tuple, TcpStateMask.Connections, _searchRange);
        _proc = new ProcNetTcpCensus(ProcFileSystem.Default);
        _procSnapshot = KernelCensus.ProcOnly(ProcFileSystem.Default, "the benchmark's /proc row");
        _found = new List<KernelSocket>(TupleSockets);

        // Every row must answer the same question with the same number, on a table of the size asked for.
        if (!_netlink.Count(new CensusFilter(null, crowd, TcpStateMask.TimeWait, null), out var crowdSize).IsOk || crowdSize < OtherSockets)
        {
            throw new InvalidOperationException($"The table holds {crowdSize} TIME_WAIT sockets towards {crowd}, not {OtherSockets} (net.ipv4.tcp_max_tw_buckets?).");
        }

        int[] answers = [ProcCount(), ProcSnapshot(), NetlinkCount(), NetlinkQuery()];
        if (answers.Any(a => a != TupleSockets))
        {
            throw new InvalidOperationException($"The rows disagree on the tuple: [{string.Join(", ", answers)}], expected {TupleSockets} each.");
        }

        Console.WriteLine($"// census table: {crowdSize:N0} TIME_WAIT towards {crowd} + the tuple {_tupleSource} -> {_tuple} ({TupleSockets} ESTABLISHED)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var socket in _held)
        {
            RawSocket.CloseAbortive(socket);
        }

        _held.Clear();
        _tupleListener.Dispose();
        _crowdListener.Dispose();
    }

    [Benchmark(Baseline = true, Description = "/proc/net/tcp{,6}: count the tuple (the fallback)")]
    public int ProcCount() => _proc.Count(_filter, out var count).IsOk ? count : -1;

    [Benchmark(Description = "/proc: whole-table snapshot, then CountUsing (the refusal path before)")]
    public int ProcSnapshot() => _procSnapshot.Read().CountUsing(_tupleSource, _tuple, _searchRange);

    [Benchmark(Description = "NETLINK_SOCK_DIAG: count the tuple, filtered in the kernel")]
    public int NetlinkCount() => _netlink.Count(_filter, out var count).IsOk ? count : -1;

    [Benchmark(Description = "NETLINK_SOCK_DIAG: the tuple's sockets (KernelSocket list)")]
    public int NetlinkQuery()
    {
        _found.Clear();
        return _netlink.Query(_filter, _found).IsOk ? _found.Count : -1;
    }

    // Closes from the client first, so each connection leaves a TIME_WAIT socket and no descriptor.
    private void FillWithTimeWait(IPEndPoint crowd)
    {
        // Every port of the slice from as many sources as it takes (100,000: 112 x 900 = 100,800),
        // so each case's table is the same whatever an earlier case left.
        var sources = (OtherSockets + CrowdPorts.Count - 1) / CrowdPorts.Count;
        var perSource = CrowdPorts.Count;
        var giveUp = TimeProvider.System.GetTimestamp() + (long)(TimeSpan.FromSeconds(75).TotalSeconds * TimeProvider.System.TimestampFrequency);
        var eof = new byte[1];
        for (var s = 0; s < sources; s++)
        {
            var source = new IPAddress([127, 1, (byte)(s / 250), (byte)((s % 250) + 1)]);
            for (var i = 0; i < perSource; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    SocketOptions.TrySetBindAddressNoPort(client);
                    RawSocket.SetLocalPortRange(client, CrowdPorts);
                    client.Bind(new IPEndPoint(source, 0));
                    client.Connect(crowd);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable && TimeProvider.System.GetTimestamp() < giveUp)
                {
                    // The slice is still full of an earlier case's TIME_WAIT and tcp_tw_reuse is
                    // off: wait for them to expire (60 s at most).
                    client.Dispose();
                    Thread.Sleep(1000);
                    i--;
                    continue;
                }
                catch
                {
                    client.Dispose();
                    throw;
                }

                using var server = _crowdListener.Accept();
                client.Shutdown(SocketShutdown.Both);
                _ = server.Receive(eof); // our FIN: 0 bytes
                client.Dispose();
            }
        }
    }
}
