using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using TuplePool.Redis.Grants;
using TuplePool.Redis.Store;
using TuplePool.Redis.Telemetry;

namespace TuplePool.Redis;

/// <summary>
/// An <see cref="IFleetBudget"/> that shares a NAT's ports between the instances of a fleet through
/// Redis: per destination, each instance spends a static share without asking and draws the rest as
/// grants leased in chunks, renewed in the background and handed back when unused.
/// </summary>
/// <remarks>
/// <para>A pool never waits on Redis while its grant has room: <see cref="GetGrant"/> reads local
/// numbers. When the grant runs low (or callers wait) one request asks for the next chunk, and the
/// pool is told through its <c>grantChanged</c> callback when it arrives. Every request is one Lua
/// script run on Redis's clock. The fleet never holds more than the NAT's capacity while at most
/// <see cref="RedisFleetOptions.ExpectedInstances"/> instances run: Redis grants only what the
/// instances' records and the reserved static shares leave, a crashed instance's record stays
/// counted for <see cref="RedisFleetOptions.LeaseTime"/> plus <see cref="NatOptions.HoldAfterClose"/>,
/// and an instance that cannot reach Redis keeps its grant only until its lease ends (measured from
/// before Redis renewed it, so it ends first), then keeps to its static share.</para>
/// <para>One budget serves one pool (<see cref="Attach"/> is called once) and is one instance of
/// the fleet: two pools in one process that share a NAT need a budget each. The multiplexer is the
/// caller's; disposing the budget hands back what its pool no longer holds and leaves the
/// multiplexer open. <see cref="Status"/> tells a health check whether Redis answers.</para>
/// </remarks>
public sealed class RedisFleetBudget : IFleetBudget, IAsyncDisposable
{
    private const int Created = 0;
    private const int Attached = 1;
    private const int Detached = 2;
    private const int Disposed = 3;

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisFleetOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly IMeterFactory? _meterFactory;
    private readonly FleetKeys _keys;
    private readonly ConcurrentDictionary<IPEndPoint, DestinationGrant> _grants = new();
    private readonly ConcurrentDictionary<int, string> _epochs = new();
    private readonly Channel<DestinationGrant> _queue = Channel.CreateUnbounded<DestinationGrant>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<long> _nextSequence;
    private readonly object _lifecycle = new();

    private int _state;
    private FleetContext? _context;
    private RedisGrantStore? _store;
    private FleetStatusTracker? _status;
    private FleetMetrics? _metrics;
    private Action<IPEndPoint>? _grantChanged;
    private ITimer? _timer;
    private Task? _reader;
    private Task? _handBack;
    private long _sequence;
    private int _running = 1;
    private int _ticking;

    /// <summary>
    /// A budget for one pool, one instance of the fleet <see cref="RedisFleetOptions.FleetName"/>, on
    /// <paramref name="redis"/> (connect it with <c>abortConnect=false</c> so it reconnects by itself).
    /// </summary>
    /// <param name="redis">The fleet's Redis; it stays the caller's.</param>
    /// <param name="options">The fleet's settings, validated here (a bad one throws <see cref="ArgumentException"/> naming it) and copied.</param>
    public RedisFleetBudget(IConnectionMultiplexer redis, RedisFleetOptions options)
        : this(redis, options, timeProvider: null, loggerFactory: null, meterFactory: null)
    {
    }

    /// <summary>
    /// A budget as <see cref="RedisFleetBudget(IConnectionMultiplexer, RedisFleetOptions)"/>, with
    /// its clock (lease times are measured on it; Redis's own clock decides every expiry in Redis),
    /// its log and its meter (<c>TuplePool.Redis</c>).
    /// </summary>
    /// <param name="redis">The fleet's Redis; it stays the caller's.</param>
    /// <param name="options">The fleet's settings, validated and copied.</param>
    /// <param name="timeProvider">The local clock; null for <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">Where events 101–106 go; null for none.</param>
    /// <param name="meterFactory">Creates the <c>TuplePool.Redis</c> meter; null for a meter of its own.</param>
    public RedisFleetBudget(IConnectionMultiplexer redis, RedisFleetOptions options, TimeProvider? timeProvider, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        _redis = redis;
        _options = options.Clone();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)loggerFactory?.CreateLogger<RedisFleetBudget>() ?? NullLogger.Instance;
        _meterFactory = meterFactory;
        InstanceId = _options.InstanceId ?? GeneratedInstanceId();
        _keys = new FleetKeys(_options.KeyPrefix, _options.FleetName);

        // Request numbers start from the wall clock so that a process that reused an instance id
        // is not taken for its predecessor's late requests; they only order one instance's
        // requests, nothing is timed by them.
        _sequence = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        _nextSequence = () => Interlocked.Increment(ref _sequence);
    }

    /// <summary>The fleet this instance belongs to (<see cref="RedisFleetOptions.FleetName"/>).</summary>
    public string FleetName => _options.FleetName;

    /// <summary>This instance's name in the fleet's Redis records (<see cref="RedisFleetOptions.InstanceId"/>, or the generated one).</summary>
    public string InstanceId { get; }

    /// <summary>
    /// Where this instance stands with Redis, for a health check: <see cref="RedisFleetStatus.Connected"/>,
    /// <see cref="RedisFleetStatus.Recovering"/> (Redis lost its keys a moment ago: no new grants yet),
    /// <see cref="RedisFleetStatus.Unreachable"/> (grants run out with their leases, then the static
    /// share) or <see cref="RedisFleetStatus.Misconfigured"/>. Before a pool attaches: Connected or
    /// Unreachable as the multiplexer is.
    /// </summary>
    public RedisFleetStatus Status
        => _status?.Current ?? (_redis.IsConnected ? RedisFleetStatus.Connected : RedisFleetStatus.Unreachable);

    /// <summary>Ports granted by Redis beyond the static shares, summed over this instance's destinations.</summary>
    internal long GrantedPorts
    {
        get
        {
            if (_context is not { } context)
            {
                return 0;
            }

            var now = context.Now();
            long sum = 0;
            foreach (var pair in _grants)
            {
                sum += pair.Value.Published(now);
            }

            return sum;
        }
    }

    /// <summary>Destinations near or past the static share (those with a grant object).</summary>
    internal int CoordinatedDestinations => _grants.Count;

    /// <summary>The split of each destination's capacity, once attached.</summary>
    internal FleetShares? Shares => _context?.Shares;

    /// <inheritdoc />
    public IDisposable Attach(NatOptions nat, Action<IPEndPoint> grantChanged)
    {
        ArgumentNullException.ThrowIfNull(nat);
        ArgumentNullException.ThrowIfNull(grantChanged);
        if (nat.PortsPerDestination < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(nat), nat.PortsPerDestination, "Nat.PortsPerDestination must be at least 1: it is the fleet's capacity per destination.");
        }

        FleetContext context;
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_state == Disposed, this);
            if (_state != Created)
            {
                throw new InvalidOperationException("This RedisFleetBudget is attached to a pool already: a budget is one instance of the fleet and serves one pool. Give each pool its own budget.");
            }

            var hold = nat.HoldAfterClose > nat.HoldAfterReset ? nat.HoldAfterClose : nat.HoldAfterReset;
            context = new FleetContext(FleetShares.Of(nat.PortsPerDestination, _options), _options, hold, _timeProvider);
            _context = context;
            _store = new RedisGrantStore(_redis, InstanceId, context);
            _status = new FleetStatusTracker(context, _options.FleetName, _logger, _options.WaitRetryInterval);
            _metrics = new FleetMetrics(_meterFactory, _options.FleetName, () => Status, () => GrantedPorts, () => CoordinatedDestinations);
            _grantChanged = grantChanged;
            _redis.ConnectionFailed += OnConnectionFailed;
            _redis.ConnectionRestored += OnConnectionRestored;
            _reader = Task.Run(ReadQueueAsync);
            using (ExecutionContext.SuppressFlow())
            {
                _timer = _timeProvider.CreateTimer(static state => ((RedisFleetBudget)state!).Tick(), this, context.TickPeriod, context.TickPeriod);
            }

            Volatile.Write(ref _state, Attached);
        }

        var shares = context.Shares;
        FleetLog.Attached(_logger, _options.FleetName, InstanceId, shares.Capacity, shares.StaticShare, shares.Reserved, shares.Coordinated, shares.Chunk, context.LeaseTime, context.RecoveryWindow);
        return new Registration(this);
    }

    /// <inheritdoc />
    public int GetGrant(IPEndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (Volatile.Read(ref _state) != Attached)
        {
            return 0;
        }

        var context = _context!; // written before the state says Attached
        var staticShare = context.Shares.StaticShare;
        return _grants.TryGetValue(Normalize(destination), out var grant) ? grant.Current(context.Now(), staticShare) : staticShare;
    }

    /// <inheritdoc />
    public void Report(IPEndPoint destination, int held, int waiting)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(held);
        ArgumentOutOfRangeException.ThrowIfNegative(waiting);
        if (Volatile.Read(ref _state) != Attached)
        {
            return;
        }

        var context = _context!;

        destination = Normalize(destination);
        while (true)
        {
            if (!_grants.TryGetValue(destination, out var grant))
            {
                if (!DestinationGrant.Needed(context.Shares, held, waiting))
                {
                    return;
                }

                grant = _grants.GetOrAdd(Copy(destination), static (key, keys) => new DestinationGrant(key, keys.For(key)), _keys);
            }

            switch (grant.Report(held, waiting, context))
            {
                case GrantAction.Gone:
                    continue;
                case GrantAction.Remove:
                    Remove(grant);
                    return;
                case GrantAction.Enqueue:
                    _queue.Writer.TryWrite(grant);
                    return;
                default:
                    return;
            }
        }
    }

    /// <summary>
    /// Detaches the pool if it is still attached: hands back to Redis every port it no longer holds
    /// (the rest runs out with the NAT's hold) and stops. The multiplexer stays open.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task? handBack;
        lock (_lifecycle)
        {
            if (_state == Disposed)
            {
                return;
            }

            if (_state == Attached)
            {
                BeginDetachLocked();
            }

            _state = Disposed;
            handBack = _handBack;
        }

        if (handBack is not null)
        {
            await handBack.ConfigureAwait(false);
        }

        _metrics?.Dispose();
    }

    private void Detach()
    {
        lock (_lifecycle)
        {
            if (_state == Attached)
            {
                BeginDetachLocked();
            }
        }
    }

    private void BeginDetachLocked()
    {
        Volatile.Write(ref _state, Detached);
        _handBack = Task.Run(HandBackAsync);
    }

    // The pool is gone: stop the timer and the queue, let the requests in flight finish, then tell
    // Redis, for each destination, what the NAT still holds (the last report beyond the static
    // share) so the rest goes back at once; those records run out by themselves.
    private async Task HandBackAsync()
    {
        var context = _context!;
        _timer?.Dispose();
        _queue.Writer.TryComplete();
        if (_reader is not null)
        {
            await _reader.ConfigureAwait(false);
        }

        ReleaseRunning();
        await _drained.Task.ConfigureAwait(false);
        var last = new List<Task>();
        foreach (var pair in _grants)
        {
            var grant = pair.Value;
            if (grant.BeginSync(context, final: true, mayRequest: true, _nextSequence, out _, out _) is { } begun)
            {
                last.Add(RunSyncAsync(grant, begun.Plan, begun.Sequence, final: true));
            }
        }

        await Task.WhenAll(last).ConfigureAwait(false);
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
    }

    private async Task ReadQueueAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var grant))
            {
                if (Volatile.Read(ref _state) == Attached)
                {
                    StartSync(grant);
                }
            }
        }
    }

    private void StartSync(DestinationGrant grant)
    {
        var context = _context!;
        var begun = grant.BeginSync(context, final: false, _status!.MayRequest, _nextSequence, out var lowered, out var remove);
        if (remove)
        {
            Remove(grant);
        }

        if (lowered)
        {
            Notify(grant.Destination);
        }

        if (begun is { } sync)
        {
            Interlocked.Increment(ref _running);
            _ = RunSyncAsync(grant, sync.Plan, sync.Sequence, final: false);
        }
    }

    private async Task RunSyncAsync(DestinationGrant grant, SyncPlan plan, long sequence, bool final)
    {
        var context = _context!;
        try
        {
            var started = context.Now();
            GrantReply reply;
            try
            {
                reply = await _store!.SyncAsync(grant.Keys, new GrantRequest(plan.Keep, plan.Want, plan.Waiting, sequence))
                    .WaitAsync(_options.RequestTimeout, _timeProvider).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _metrics!.RequestFailed(_timeProvider.GetElapsedTime(started), FleetMetrics.ErrorType(e));
                _status!.Failed(e.Message);
                grant.FailSync(context, out var retry);
                if (retry && !final)
                {
                    Poke(grant);
                }

                return;
            }

            _metrics!.RequestSucceeded(_timeProvider.GetElapsedTime(started));
            var restored = false;
            if (reply.Outcome == GrantOutcome.Applied)
            {
                restored = _status!.Answered(reply, _grants.Count);
            }
            else if (reply.Outcome == GrantOutcome.Misconfigured)
            {
                _status!.Refused(reply);
            }

            grant.CompleteSync(plan, reply, context, out var changed, out var again, out var remove);
            if (remove)
            {
                Remove(grant);
            }

            if (changed)
            {
                Notify(grant.Destination);
            }

            if (final)
            {
                return;
            }

            if (reply.Outcome == GrantOutcome.Applied)
            {
                CheckEpoch(grant.Keys.Bucket, reply.Epoch, context);
            }

            if (restored)
            {
                RenewAll();
            }

            if (again)
            {
                Poke(grant);
            }
        }
        finally
        {
            if (!final)
            {
                ReleaseRunning();
            }
        }
    }

    // A new epoch in a bucket this instance has seen before: Redis lost the fleet's keys. Every
    // grant of the bucket is re-asserted at once instead of at its next renewal.
    private void CheckEpoch(int bucket, string epoch, FleetContext context)
    {
        if (!_epochs.TryGetValue(bucket, out var known))
        {
            _epochs.TryAdd(bucket, epoch);
            return;
        }

        if (known == epoch || !_epochs.TryUpdate(bucket, epoch, known))
        {
            return;
        }

        _metrics!.KeysLost();
        FleetLog.KeysLost(_logger, _options.FleetName, bucket, context.RecoveryWindow);
        foreach (var pair in _grants)
        {
            if (pair.Value.Keys.Bucket == bucket && pair.Value.RenewSoon(context) == GrantAction.Enqueue)
            {
                _queue.Writer.TryWrite(pair.Value);
            }
        }
    }

    private void RenewAll()
    {
        var context = _context;
        if (context is null)
        {
            return;
        }

        foreach (var pair in _grants)
        {
            if (pair.Value.RenewSoon(context) == GrantAction.Enqueue)
            {
                _queue.Writer.TryWrite(pair.Value);
            }
        }
    }

    private void Poke(DestinationGrant grant)
    {
        if (grant.Poke(_context!) == GrantAction.Enqueue)
        {
            _queue.Writer.TryWrite(grant);
        }
    }

    // Every TickPeriod: ends lapsed leases (the pool hears of it), queues renewals, retries and
    // settled hand-backs. Skips a tick that would overlap the previous one.
    private void Tick()
    {
        if (Volatile.Read(ref _state) != Attached || Interlocked.Exchange(ref _ticking, 1) == 1)
        {
            return;
        }

        var context = _context!;

        try
        {
            var mayRequest = _status!.MayRequest;
            var ended = 0;
            IPEndPoint? example = null;
            var exampleHeld = -1;
            foreach (var pair in _grants)
            {
                var grant = pair.Value;
                var action = grant.Tick(context, mayRequest, out var leaseEnded, out var heldBeyond);
                if (leaseEnded)
                {
                    ended++;
                    if (heldBeyond > exampleHeld)
                    {
                        example = grant.Destination;
                        exampleHeld = heldBeyond;
                    }

                    Notify(grant.Destination);
                }

                if (action == GrantAction.Remove)
                {
                    Remove(grant);
                }
                else if (action == GrantAction.Enqueue)
                {
                    _queue.Writer.TryWrite(grant);
                }
            }

            if (ended > 0)
            {
                _metrics!.LeasesEnded(ended);
                FleetLog.LeasesEnded(_logger, _options.FleetName, ended, context.Shares.StaticShare, example!, exampleHeld);
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive && Volatile.Read(ref _state) == Attached)
        {
            _status?.Failed(e.Exception?.Message ?? $"{e.FailureType} on {e.EndPoint}");
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive && Volatile.Read(ref _state) == Attached)
        {
            _status?.Reconnected();
            RenewAll();
        }
    }

    private void Notify(IPEndPoint destination)
    {
        try
        {
            _grantChanged?.Invoke(destination);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The pool's callback is its own business; a throw must not stop the budget's worker.
            FleetLog.CallbackFailed(_logger, destination, e);
        }
    }

    private void Remove(DestinationGrant grant) => _grants.TryRemove(KeyValuePair.Create(grant.Destination, grant));

    private void ReleaseRunning()
    {
        if (Interlocked.Decrement(ref _running) == 0)
        {
            _drained.TrySetResult();
        }
    }

    // The NAT sees IPv4 destinations as IPv4 and has no use for an IPv6 scope: one Redis field per
    // destination, whichever form the pool gives.
    private static IPEndPoint Normalize(IPEndPoint destination)
    {
        var address = destination.Address;
        if (address.IsIPv4MappedToIPv6)
        {
            return new IPEndPoint(address.MapToIPv4(), destination.Port);
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPEndPoint(new IPAddress(address.GetAddressBytes()), destination.Port)
            : destination;
    }

    // The pool's endpoint is mutable (Port, Address): the map keeps a copy of its own.
    private static IPEndPoint Copy(IPEndPoint destination) => new(new IPAddress(destination.Address.GetAddressBytes()), destination.Port);

    private static string GeneratedInstanceId()
        => $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    private sealed class Registration(RedisFleetBudget budget) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                budget.Detach();
            }
        }
    }
}
