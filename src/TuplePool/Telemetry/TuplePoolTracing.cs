using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Telemetry;

/// <summary>
/// The pool's spans, on one <see cref="ActivitySource"/> named <c>TuplePool</c>, named and tagged
/// as <c>System.Net.Http</c> names its connection spans (<c>HTTP wait_for_connection host:port</c>,
/// <c>HTTP connection_setup host:port</c>) and by the OpenTelemetry conventions
/// (<c>server.*</c>, <c>network.*</c>, <c>error.type</c>, status Error on failure):
/// <list type="bullet">
/// <item><c>TuplePool.WaitForConnection</c> ("TuplePool wait_for_connection host:port"): one stay
/// in a destination's line, until a returned connection is handed over or room may be free
/// (<c>tuplepool.wait.outcome</c> <c>connection</c> or <c>room</c>), or the acquire fails
/// (<c>failed</c>, with <c>error.type</c>).</item>
/// <item><c>TuplePool.Connect</c> ("TuplePool connect ip:port"): the connect to one address,
/// every attempt of it (<c>tuplepool.connect.attempts</c>; each failed one is an event with its
/// source and <c>error.type</c>), ending <c>connected</c> (with the source and local port),
/// <c>no_room</c> (every tuple full: the caller waits) or <c>failed</c> (<c>error.type</c>).</item>
/// </list>
/// Both are children of the caller's <see cref="Activity.Current"/>: unlike
/// <c>HttpClient</c>'s shared connections, a TuplePool connect is made for the caller that waits on it.
/// Nothing is allocated when nobody listens to the source: every start returns null then, and
/// every other call takes the null and does nothing.
/// </summary>
internal static class TuplePoolTracing
{
    public const string SourceName = "TuplePool";

    public const string WaitForConnectionActivityName = "TuplePool.WaitForConnection";

    public const string ConnectActivityName = "TuplePool.Connect";

    public const string AttemptFailedEventName = "tuplepool.connect.attempt_failed";

    internal const string WaitOutcomeTag = "tuplepool.wait.outcome";
    internal const string ConnectOutcomeTag = "tuplepool.connect.outcome";
    internal const string AttemptsTag = "tuplepool.connect.attempts";
    internal const string AttemptTag = "tuplepool.connect.attempt";
    internal const string LocalPortTag = "network.local.port";
    internal const string TransportTag = "network.transport";
    internal const string NetworkTypeTag = "network.type";

    /// <summary>A returned connection was handed to the waiter.</summary>
    internal const string HandedConnection = "connection";

    /// <summary>The waiter was woken to try again: room may be free.</summary>
    internal const string Room = "room";

    internal const string Connected = "connected";
    internal const string NoRoom = "no_room";
    internal const string Failed = "failed";

    private static readonly object s_one = 1;

    /// <summary>The source every span of every pool starts on.</summary>
    public static ActivitySource Source { get; } = new(SourceName, typeof(TuplePoolTracing).Assembly.GetName().Version?.ToString());

    /// <summary>A wait in <paramref name="destination"/>'s line begins; null when nobody listens.</summary>
    public static Activity? StartWait(DestinationMetrics destination)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(WaitForConnectionActivityName, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            var (address, port) = (destination.ServerAddress.Value, destination.ServerPort.Value);
            activity.DisplayName = string.Create(CultureInfo.InvariantCulture, $"TuplePool wait_for_connection {address}:{port}");
            activity.SetTag(TuplePoolMetrics.PoolNameTag, destination.PoolName);
            activity.SetTag(TuplePoolMetrics.ServerAddressTag, address);
            activity.SetTag(TuplePoolMetrics.ServerPortTag, port);
        }

        return activity;
    }

    /// <summary>The waiter was woken: <paramref name="handedConnection"/> when a returned connection came with the wake, else room may be free.</summary>
    public static void Woken(Activity? wait, bool handedConnection)
    {
        if (wait is { IsAllDataRequested: true })
        {
            wait.SetTag(WaitOutcomeTag, handedConnection ? HandedConnection : Room);
        }
    }

    /// <summary>
    /// The wait ended in <paramref name="error"/>: <c>timeout</c> (no room within the acquire's
    /// deadline), <c>budget_exhausted</c> (the line was full), <c>budget_wait_canceled</c>,
    /// <c>pool_disposed</c>, … (<see cref="ErrorTypes"/>).
    /// </summary>
    public static void WaitFailed(Activity? wait, Exception error)
    {
        if (wait is not null)
        {
            var errorType = error is TupleBudgetExhaustedException { WaitLineFull: false } ? ErrorTypes.Timeout : ErrorTypes.Of(error);
            Fail(wait, WaitOutcomeTag, errorType);
        }
    }

    /// <summary>A connect to <paramref name="address"/> begins (all its attempts); null when nobody listens.</summary>
    public static Activity? StartConnect(string poolName, IPEndPoint address)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(ConnectActivityName, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            var ip = address.Address.ToString();
            activity.DisplayName = string.Create(CultureInfo.InvariantCulture, $"TuplePool connect {ip}:{address.Port}");
            activity.SetTag(TuplePoolMetrics.PoolNameTag, poolName);
            activity.SetTag(TuplePoolMetrics.ServerAddressTag, ip);
            activity.SetTag(TuplePoolMetrics.ServerPortTag, address.Port);
            activity.SetTag(TuplePoolMetrics.PeerAddressTag, ip);
            activity.SetTag(TransportTag, "tcp");
            activity.SetTag(NetworkTypeTag, address.AddressFamily == AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4");
        }

        return activity;
    }

    /// <summary>
    /// An attempt of the connect running in this async flow begins from <paramref name="source"/>
    /// (the tuple's local address): counts it and names the source. Nothing when no connect span runs.
    /// </summary>
    public static void AttemptStarted(IPAddress source)
    {
        if (CurrentConnect() is { } connect)
        {
            connect.SetTag(AttemptsTag, connect.GetTagItem(AttemptsTag) is int attempts ? attempts + 1 : s_one);
            connect.SetTag(TuplePoolMetrics.LocalAddressTag, source.ToString());
        }
    }

    /// <summary>The current attempt, from <paramref name="source"/>, failed with <paramref name="errorType"/>: an event on the connect span.</summary>
    public static void AttemptFailed(IPAddress source, string errorType)
    {
        if (CurrentConnect() is { } connect)
        {
            connect.AddEvent(new ActivityEvent(AttemptFailedEventName, tags: new ActivityTagsCollection
            {
                { AttemptTag, connect.GetTagItem(AttemptsTag) ?? s_one },
                { TuplePoolMetrics.LocalAddressTag, source.ToString() },
                { TuplePoolMetrics.ErrorTypeTag, errorType },
            }));
        }
    }

    /// <summary>
    /// As <see cref="AttemptFailed(IPAddress, string)"/> with <see cref="ErrorTypes.Of(Exception)"/>
    /// of <paramref name="error"/>, worked out only when a connect span is recorded (a failure at
    /// the open-file limit must not be what first loads the error names).
    /// </summary>
    public static void AttemptFailed(IPAddress source, Exception error)
    {
        if (CurrentConnect() is not null)
        {
            AttemptFailed(source, ErrorTypes.Of(error));
        }
    }

    /// <summary>The connect returned: <paramref name="socket"/> connected, or null when no tuple had room.</summary>
    public static void ConnectEnded(Activity? connect, Socket? socket)
    {
        if (connect is not { IsAllDataRequested: true })
        {
            return;
        }

        if (socket is null)
        {
            connect.SetTag(ConnectOutcomeTag, NoRoom);
            return;
        }

        connect.SetTag(ConnectOutcomeTag, Connected);
        if (socket.LocalEndPoint is IPEndPoint local)
        {
            connect.SetTag(TuplePoolMetrics.LocalAddressTag, local.Address.ToString());
            connect.SetTag(LocalPortTag, local.Port);
        }
    }

    /// <summary>The connect threw <paramref name="error"/> (refused, timed out, cancelled, the pool disposed, …).</summary>
    public static void ConnectFailed(Activity? connect, Exception error)
    {
        if (connect is not null)
        {
            Fail(connect, ConnectOutcomeTag, ErrorTypes.Of(error));
        }
    }

    /// <summary>Ends the connect span; one that neither connected nor failed found no room.</summary>
    public static void StopConnect(Activity? connect)
    {
        if (connect is null)
        {
            return;
        }

        if (connect.IsAllDataRequested && connect.GetTagItem(ConnectOutcomeTag) is null)
        {
            connect.SetTag(ConnectOutcomeTag, NoRoom);
        }

        connect.Stop();
    }

    /// <summary>The connect span of this async flow (started by <see cref="StartConnect"/>), when one is recorded.</summary>
    private static Activity? CurrentConnect()
        => Source.HasListeners()
            && Activity.Current is { IsAllDataRequested: true } current
            && ReferenceEquals(current.Source, Source)
            && current.OperationName == ConnectActivityName
                ? current
                : null;

    private static void Fail(Activity activity, string outcomeTag, string errorType)
    {
        activity.SetStatus(ActivityStatusCode.Error);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(outcomeTag, Failed);
            activity.SetTag(TuplePoolMetrics.ErrorTypeTag, errorType);
        }
    }
}
