using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using Polly;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// Several addresses on real loopback sockets: ::1 and 127.0.0.1 stand for a name with an AAAA
/// and an A record (here "localhost" has only the A record, so the addresses are handed to the
/// opener as the resolver would). Refused, unanswered (a full accept queue drops the SYN) and
/// served addresses; ledger and kernel checked afterwards.
/// </summary>
public sealed class ConnectionOpenerLoopbackTests
{
    private static SocketPool CreateSut(FakeTimeProvider? time = null, ISocketConnector? connector = null, Action<TuplePoolOptions>? configure = null)
    {
        var slice = PortSlices.Next(20);
        var options = new TuplePoolOptions
        {
            LocalPortRange = slice,
            HappyEyeballsDelay = TimeSpan.FromMilliseconds(250),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        return new SocketPool(options, time, null, null, connector ?? new SocketConnector(TestKernel.Create(), slice), Substitute.For<IKernelCensus>(), TestKernel.Create());
    }

    /// <summary>A port on both loopbacks that a listener holds on one family only.</summary>
    private static (IPEndPoint V6, IPEndPoint V4) Both(IPEndPoint served)
        => (new IPEndPoint(IPAddress.IPv6Loopback, served.Port), new IPEndPoint(IPAddress.Loopback, served.Port));

    private static void Close(OpenedConnection opened) => opened.Dispose();

    private static int InKernel(params IPEndPoint[] destinations)
    {
        var census = new KernelCensus(ProcFileSystem.Default).Read();
        return destinations.Sum(d => census.CountUsing(d.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, d));
    }

    [Fact]
    public async Task BothFamilies_IPv6Refused_IPv4Wins()
    {
        await using var server = new LoopbackServer(IPAddress.Loopback);
        await using var pool = CreateSut();
        var (v6, v4) = Both(server.EndPoint);

        var opened = await pool.Opener.OpenAsync([v4, v6], ResiliencePipeline.Empty, default);

        Assert.NotNull(opened);
        Assert.Equal(v4, opened.Socket.RemoteEndPoint);
        Assert.Equal(1, pool.GetSnapshot().TotalActive);
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Destination.Equals(v6)); // the refused attempt holds nothing
        Close(opened);
    }

    [Fact]
    public async Task BothFamilies_IPv4Refused_IPv6Wins()
    {
        await using var server = new LoopbackServer(IPAddress.IPv6Loopback);
        await using var pool = CreateSut();
        var (v6, v4) = Both(server.EndPoint);

        var opened = await pool.Opener.OpenAsync([v4, v6], ResiliencePipeline.Empty, default);

        Assert.NotNull(opened);
        Assert.Equal(v6, opened.Socket.RemoteEndPoint);
        Close(opened);
    }

    [Fact]
    public async Task OneFamily_FirstAddressRefused_SecondServes()
    {
        await using var server = new LoopbackServer(IPAddress.Loopback);
        await using var pool = CreateSut();
        var refused = new IPEndPoint(TestSources.S5, server.EndPoint.Port); // nobody listens on 127.0.0.5

        var opened = await pool.Opener.OpenAsync([refused, server.EndPoint], ResiliencePipeline.Empty, default);

        Assert.Equal(server.EndPoint, opened!.Socket.RemoteEndPoint);
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Destination.Equals(refused)); // the refused attempt holds nothing
        Close(opened);
    }

    [Fact]
    public async Task EveryAddressRefused_OneSocketExceptionNamingEach()
    {
        using var holder = ListenerPorts.BindListener(IPAddress.Loopback); // bound, never listening: refused
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        await using var pool = CreateSut();
        var addresses = new[] { new IPEndPoint(IPAddress.Loopback, port), new IPEndPoint(IPAddress.IPv6Loopback, port), new IPEndPoint(TestSources.S5, port) };

        var error = await Assert.ThrowsAsync<SocketException>(() => pool.Opener.OpenAsync(addresses, ResiliencePipeline.Empty, default).AsTask());

        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.All(addresses, a => Assert.Contains(a.ToString(), error.Message, StringComparison.Ordinal));
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task BothFamilies_IPv6Unanswered_IPv4WinsAfterTheDelay_TheSynSentSocketIsGone()
    {
        using var silent = new SilentListener(IPAddress.IPv6Loopback);
        await using var server = new LoopbackServer(IPAddress.Loopback);
        var time = new FakeTimeProvider();
        var connector = new RecordingConnector(new SocketConnector(TestKernel.Create(), PortSlices.Next(20)));
        await using var pool = CreateSut(time, connector);

        var open = pool.Opener.OpenAsync([server.EndPoint, silent.EndPoint], ResiliencePipeline.Empty, default).AsTask();
        await connector.CalledAsync(1);
        Assert.Equal(silent.EndPoint, connector.Destinations[0]);
        time.Advance(TimeSpan.FromMilliseconds(250));
        var opened = await open.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(server.EndPoint, opened!.Socket.RemoteEndPoint);
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Destination.Equals(silent.EndPoint)); // the cancelled attempt holds nothing
        Assert.Equal(0, InKernel(silent.EndPoint) - 1); // only the listener's own filler connection is left
        Close(opened);
    }

    [Fact]
    public async Task Cancellation_DuringHappyEyeballs_NothingLeftOpenOrCharged()
    {
        using var silent6 = new SilentListener(IPAddress.IPv6Loopback);
        using var silent4 = new SilentListener(IPAddress.Loopback);
        var time = new FakeTimeProvider();
        var connector = new RecordingConnector(new SocketConnector(TestKernel.Create(), PortSlices.Next(20)));
        await using var pool = CreateSut(time, connector);
        var before = InKernel(silent6.EndPoint, silent4.EndPoint);
        using var cancel = new CancellationTokenSource();

        var open = pool.Opener.OpenAsync([silent4.EndPoint, silent6.EndPoint], ResiliencePipeline.Empty, cancel.Token).AsTask();
        await connector.CalledAsync(1);
        time.Advance(TimeSpan.FromMilliseconds(250));
        await connector.CalledAsync(2);
        Assert.Equal(2, pool.GetSnapshot().TotalActive);
        Assert.Equal(before + 2, InKernel(silent6.EndPoint, silent4.EndPoint));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(0, pool.GetSnapshot().TotalActive);
        Assert.Equal(0, pool.GetSnapshot().TotalTimeWait);
        Assert.Equal(before, InKernel(silent6.EndPoint, silent4.EndPoint));
    }

    /// <summary>Wraps a real connector and records the order of its calls.</summary>
    private sealed class RecordingConnector(ISocketConnector inner) : ISocketConnector
    {
        private readonly TaskCompletionSource[] _called = Enumerable.Range(0, 8).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        private readonly List<IPEndPoint> _destinations = [];

        public IReadOnlyList<IPEndPoint> Destinations
        {
            get
            {
                lock (_destinations)
                {
                    return [.. _destinations];
                }
            }
        }

        public Task CalledAsync(int count) => _called[count - 1].Task.WaitAsync(TimeSpan.FromSeconds(10));

        public ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
        {
            int count;
            lock (_destinations)
            {
                _destinations.Add(destination);
                count = _destinations.Count;
            }

            var connecting = inner.ConnectAsync(source, destination, cancellationToken);
            _called[count - 1].TrySetResult();
            return connecting;
        }
    }
}
