using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Platform;
using TuplePool.Telemetry;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The <c>TuplePool</c> ActivitySource, collected by a real OpenTelemetry SDK: a wait in line and
/// a connect are spans under the caller's activity, with the documented names and tags, and
/// nothing is started when nobody listens.
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed class TracingTests
{
    private readonly string _pool = $"tracing-{Guid.NewGuid():N}";

    private TuplePoolOptions Options(int sources, int ports) => new()
    {
        SourceAddresses = TestSources.Take(sources),
        LocalPortRange = PortSlices.Next(ports),
        PoolName = _pool,
    };

    [Fact]
    public async Task Connect_IsASpanUnderTheCaller_WithSourceTupleAttemptsAndOutcome()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(Options(1, 10));
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        SocketLease lease;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            lease = await pool.AcquireAsync(server.EndPoint);
        }

        var connect = Assert.Single(sdk.SpansUnder(caller));
        Assert.Equal(TuplePoolTracing.ConnectActivityName, connect.OperationName);
        Assert.Equal($"TuplePool connect 127.0.0.1:{server.EndPoint.Port}", connect.DisplayName);
        Assert.Equal(caller.SpanId, connect.ParentSpanId);
        Assert.Equal(ActivityKind.Internal, connect.Kind);
        Assert.Equal(ActivityStatusCode.Unset, connect.Status);
        Assert.Equal(_pool, connect.GetTagItem("tuplepool.pool.name"));
        Assert.Equal("127.0.0.1", connect.GetTagItem("server.address"));
        Assert.Equal(server.EndPoint.Port, connect.GetTagItem("server.port"));
        Assert.Equal("127.0.0.1", connect.GetTagItem("network.peer.address"));
        Assert.Equal("127.0.0.2", connect.GetTagItem("network.local.address"));
        Assert.Equal(lease.LocalEndPoint.Port, connect.GetTagItem("network.local.port"));
        Assert.Equal("tcp", connect.GetTagItem("network.transport"));
        Assert.Equal("ipv4", connect.GetTagItem("network.type"));
        Assert.Equal(1, connect.GetTagItem("tuplepool.connect.attempts"));
        Assert.Equal("connected", connect.GetTagItem("tuplepool.connect.outcome"));
        Assert.Null(connect.GetTagItem("error.type"));
        lease.Dispose();
    }

    [Fact]
    public async Task Connect_Refused_IsAnErrorSpan_WithTheAttemptAsAnEvent()
    {
        using var notListening = ListenerPorts.BindListener(IPAddress.Loopback);
        await using var pool = new SocketPool(Options(1, 10));
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            await Assert.ThrowsAnyAsync<SocketException>(() => pool.AcquireAsync(notListening.LocalEndPoint!).AsTask());
        }

        var connect = Assert.Single(sdk.SpansUnder(caller));
        Assert.Equal(ActivityStatusCode.Error, connect.Status);
        Assert.Equal("failed", connect.GetTagItem("tuplepool.connect.outcome"));
        Assert.Equal("connection_refused", connect.GetTagItem("error.type"));
        var attempt = Assert.Single(connect.Events);
        Assert.Equal(TuplePoolTracing.AttemptFailedEventName, attempt.Name);
        var tags = attempt.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal("connection_refused", tags["error.type"]);
        Assert.Equal("127.0.0.2", tags["network.local.address"]);
        Assert.Equal(1, tags["tuplepool.connect.attempt"]);
    }

    [Fact]
    public async Task Connect_RetriedOnAnotherSource_CountsBothAttempts_AndNamesTheFailedSource()
    {
        IPAddress? failedSource = null;
        var connector = new StandInConnector
        {
            // The kernel has no port for the first source tried (EADDRNOTAVAIL); the pool moves on.
            Fail = (source, _, call) => call == 1 && (failedSource = source) is not null ? new SocketException((int)SocketError.AddressNotAvailable) : null,
        };
        var options = Options(2, 10);
        await using var pool = new SocketPool(options, new FakeTimeProvider(), null, null, connector, Substitute.For<IKernelCensus>(), TestKernel.Create());
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        SocketLease lease;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            lease = await pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, 7000)); // never connected to: the connector stands in
        }

        var connect = Assert.Single(sdk.SpansUnder(caller));
        Assert.Equal(2, connect.GetTagItem("tuplepool.connect.attempts"));
        Assert.Equal("connected", connect.GetTagItem("tuplepool.connect.outcome"));
        Assert.NotNull(failedSource);
        Assert.Contains(connect.GetTagItem("network.local.address"), new[] { "127.0.0.2", "127.0.0.3" }.Where(a => a != failedSource.ToString()));
        var failed = Assert.Single(connect.Events).Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(failedSource.ToString(), failed["network.local.address"]);
        Assert.Equal("address_not_available", failed["error.type"]);
        Assert.Equal(1, failed["tuplepool.connect.attempt"]);
        lease.Dispose();
    }

    [Fact]
    public async Task Wait_HandedAReturnedConnection_IsASpanUnderTheCaller_WithTheDestination()
    {
        await using var server = new LoopbackServer();
        var options = Options(1, 10);
        options.MaxConnectionsPerDestination = 1;
        await using var pool = new SocketPool(options);
        var held = await pool.AcquireAsync(server.EndPoint);
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        SocketLease lease;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
            Assert.True(await Eventually.TrueAsync(() => pool.GetSnapshot().PendingAcquires == 1));
            held.Dispose(); // handed straight to the waiter
            lease = await waiting;
        }

        var wait = Assert.Single(sdk.SpansUnder(caller));
        Assert.Equal(TuplePoolTracing.WaitForConnectionActivityName, wait.OperationName);
        Assert.Equal($"TuplePool wait_for_connection 127.0.0.1:{server.EndPoint.Port}", wait.DisplayName);
        Assert.Equal(caller.SpanId, wait.ParentSpanId);
        Assert.Equal(_pool, wait.GetTagItem("tuplepool.pool.name"));
        Assert.Equal("127.0.0.1", wait.GetTagItem("server.address"));
        Assert.Equal(server.EndPoint.Port, wait.GetTagItem("server.port"));
        Assert.Equal("connection", wait.GetTagItem("tuplepool.wait.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, wait.Status);
        Assert.True(lease.IsReused);
        lease.Dispose();
    }

    [Fact]
    public async Task Wait_NoRoomWithinTheTimeout_IsAnErrorSpan_Timeout()
    {
        var time = new FakeTimeProvider();
        var options = Options(1, 1);
        options.LocalPortRange = null; // the test kernel's range: one port
        options.AcquireTimeout = TimeSpan.FromSeconds(2);
        await using var pool = new SocketPool(options, time, null, null, new StandInConnector(), Substitute.For<IKernelCensus>(), TestKernel.Create(range: new PortRange(40000, 40000)));
        var held = await pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, 7000)); // the only port
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            var waiting = pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, 7000)).AsTask();
            Assert.True(await Eventually.TrueAsync(() => pool.GetSnapshot().PendingAcquires == 1));
            time.Advance(TimeSpan.FromSeconds(2));
            await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting);
        }

        var wait = Assert.Single(sdk.SpansUnder(caller), s => s.OperationName == TuplePoolTracing.WaitForConnectionActivityName);
        Assert.Equal(ActivityStatusCode.Error, wait.Status);
        Assert.Equal("failed", wait.GetTagItem("tuplepool.wait.outcome"));
        Assert.Equal("timeout", wait.GetTagItem("error.type"));
        var connect = Assert.Single(sdk.SpansUnder(caller), s => s.OperationName == TuplePoolTracing.ConnectActivityName);
        Assert.Equal("no_room", connect.GetTagItem("tuplepool.connect.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, connect.Status);
        held.Dispose();
    }

    [Fact]
    public async Task Wait_WokenForRoom_EndsWithOutcomeRoom_AndTheConnectFollowsUnderTheCaller()
    {
        await using var server = new LoopbackServer();
        var options = Options(1, 10);
        options.MaxConnectionsPerDestination = 1;
        await using var pool = new SocketPool(options);
        var held = await pool.AcquireAsync(server.EndPoint);
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        SocketLease lease;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
            Assert.True(await Eventually.TrueAsync(() => pool.GetSnapshot().PendingAcquires == 1));
            held.Invalidate();
            held.Dispose(); // closed, not returned: the slot is free, the waiter connects anew
            lease = await waiting;
        }

        var spans = sdk.SpansUnder(caller);
        var wait = Assert.Single(spans, s => s.OperationName == TuplePoolTracing.WaitForConnectionActivityName);
        var connect = Assert.Single(spans, s => s.OperationName == TuplePoolTracing.ConnectActivityName);
        Assert.Equal("room", wait.GetTagItem("tuplepool.wait.outcome"));
        Assert.Equal(caller.SpanId, connect.ParentSpanId);
        Assert.True(connect.StartTimeUtc >= wait.StartTimeUtc + wait.Duration);
        Assert.False(lease.IsReused);
        lease.Dispose();
    }

    [Fact]
    public async Task IdleHit_StartsNoSpan()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(Options(1, 10));
        (await pool.AcquireAsync(server.EndPoint)).Dispose();
        using var sdk = new OpenTelemetrySdk();

        Activity caller;
        using (caller = OpenTelemetrySdk.Caller.StartActivity("request")!)
        {
            var lease = await pool.AcquireAsync(server.EndPoint);
            Assert.True(lease.IsReused);
            lease.Dispose();
        }

        Assert.Empty(sdk.SpansUnder(caller));
    }
}

/// <summary>
/// The spans when nobody listens to the <c>TuplePool</c> source, or a listener samples nothing:
/// none started, the caller's activity left as it was. In the SDK tests' collection, so no SDK
/// listens meanwhile.
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed class TracingWithoutListenerTests
{
    [Fact]
    public void Starts_WithoutAListenerOnTheSource_ReturnNull()
    {
        using var other = new ActivityListener { ShouldListenTo = s => s.Name == "Some.Other.Source", Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded };
        ActivitySource.AddActivityListener(other);
        Assert.False(TuplePoolTracing.Source.HasListeners());

        var destination = new TuplePoolMetrics(null).ForDestination(new IPEndPoint(IPAddress.Loopback, 7000));

        Assert.Null(TuplePoolTracing.StartWait(destination));
        Assert.Null(TuplePoolTracing.StartConnect("default", new IPEndPoint(IPAddress.Loopback, 7000)));
    }

    [Fact]
    public void Starts_WithAListenerThatSamplesNothing_ReturnNull_AndRecordNothing()
    {
        var started = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TuplePoolTracing.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
            ActivityStarted = _ => Interlocked.Increment(ref started),
        };
        ActivitySource.AddActivityListener(listener);
        var destination = new TuplePoolMetrics(null).ForDestination(new IPEndPoint(IPAddress.Loopback, 7000));
        var before = Activity.Current;

        Assert.Null(TuplePoolTracing.StartWait(destination));
        Assert.Null(TuplePoolTracing.StartConnect("default", new IPEndPoint(IPAddress.Loopback, 7000)));
        TuplePoolTracing.AttemptStarted(IPAddress.Loopback);
        TuplePoolTracing.AttemptFailed(IPAddress.Loopback, "timed_out");
        TuplePoolTracing.StopConnect(null);
        Assert.Same(before, Activity.Current);
        Assert.Equal(0, Volatile.Read(ref started));
    }
}
