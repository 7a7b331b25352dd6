using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.ObjectPool;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Options;
using TuplePool.Platform;
using TuplePool.Pooling;
using TuplePool.Sources;
using TuplePool.Telemetry;

namespace TuplePool;

/// <summary>
/// A pool of connected TCP sockets. New connections are spread over the configured source
/// addresses and kept within each (source, destination IP, destination port) tuple's port budget,
/// so the kernel never has to refuse one with <c>EADDRNOTAVAIL</c>; returned sockets are reused.
/// Thread-safe; create one per process (or per set of source addresses) and share it.
/// </summary>
/// <remarks>
/// The public face only: it builds the parts and hands calls on. The parts, each with one job
/// (all in <c>Pooling/</c>): <see cref="DestinationRegistry"/> (one <see cref="DestinationPool"/>
/// per destination, its idle store, line of waiters and open count), <see cref="IdleReaper"/>
/// (the timer: idle expiry, abandoned leases, eviction), <see cref="SnapshotBuilder"/> (the public
/// views), <see cref="AcquireErrors"/> (the errors an acquire ends with). None of them knows this class.
/// </remarks>
public sealed class SocketPool : ISocketPool, IDisposable
{
    private readonly TupleBudget _budget;
    private readonly DestinationRegistry _destinations;
    private readonly IdleReaper _reaper;
    private readonly SnapshotBuilder _snapshots;
    private readonly TupleLookup _tuples;
    private readonly ConnectionOpener _opener;
    private readonly TuplePoolMetrics _metrics;
    private readonly ObjectPool<Waiter> _waiters;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _disposing = new();
    private volatile bool _disposed;

    /// <summary>Creates a pool.</summary>
    /// <remarks>
    /// The options are checked by the same rules as <c>AddTuplePool</c>'s start-up validation,
    /// the source address probe included: each of <see cref="TuplePoolOptions.SourceAddresses"/> is
    /// bound once to a TCP socket with port 0 and closed again (nothing is sent), so an address
    /// that is not assigned to this machine fails here, as it fails <c>ValidateOnStart</c>, instead
    /// of being quarantined at the first connect. A source that goes away later (an address
    /// removed at run time) is quarantined then, and tried again after
    /// <see cref="TuplePoolOptions.SourceQuarantine"/>.
    /// </remarks>
    /// <param name="options">The settings; copied, so later changes have no effect.</param>
    /// <param name="timeProvider">The clock for timeouts, TIME_WAIT and idle expiry; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="loggerFactory">Where log messages go (category <c>TuplePool.SocketPool</c>); none when null.</param>
    /// <param name="meterFactory">Creates the <c>TuplePool</c> meter; a standalone meter when null.</param>
    /// <exception cref="ArgumentException">An option is invalid, or a source address is not assigned to this machine; the message names it, as start-up validation does.</exception>
    public SocketPool(TuplePoolOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(options, timeProvider, loggerFactory, meterFactory, connector: null, census: null, kernel: null, probeSources: true)
    {
    }

    /// <summary>
    /// Creates a pool behind a NAT that several instances share: the NAT's ports to each
    /// destination (<see cref="TuplePoolOptions.Nat"/>, whose <see cref="NatOptions.PortsPerDestination"/>
    /// is then the whole fleet's) are drawn from <paramref name="fleetBudget"/>'s grants, so
    /// the fleet together never holds more than the NAT has.
    /// </summary>
    /// <remarks>The options are checked as by the other constructor, each source address bound once (no traffic).</remarks>
    /// <param name="options">The settings; copied. <see cref="TuplePoolOptions.Nat"/> must be set.</param>
    /// <param name="fleetBudget">Where this instance's share of the NAT comes from (for example <c>TuplePool.Redis.RedisFleetBudget</c>); the pool does not dispose it.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="loggerFactory">Where log messages go; none when null.</param>
    /// <param name="meterFactory">Creates the <c>TuplePool</c> meter; a standalone meter when null.</param>
    /// <exception cref="ArgumentException">An option is invalid, a source address is not assigned to this machine, or <see cref="TuplePoolOptions.Nat"/> is not set.</exception>
    public SocketPool(TuplePoolOptions options, IFleetBudget fleetBudget, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(options, timeProvider, loggerFactory, meterFactory, connector: null, census: null, kernel: null, fleet: fleetBudget ?? throw new ArgumentNullException(nameof(fleetBudget)), probeSources: true)
    {
    }

    /// <summary>
    /// The pool with its seams (connector, census, kernel facts, DNS, fleet) for tests. Without
    /// <paramref name="probeSources"/> the source addresses are not bound at construction: a source
    /// that is not assigned is left to run-time quarantine, as tests of quarantine need.
    /// </summary>
    internal SocketPool(
        TuplePoolOptions options,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        IMeterFactory? meterFactory,
        ISocketConnector? connector,
        IKernelCensus? census,
        KernelSettings? kernel,
        Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null,
        IFleetBudget? fleet = null,
        bool probeSources = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = options.Clone();
        _time = timeProvider ?? TimeProvider.System;
        var logger = (ILogger?)loggerFactory?.CreateLogger<SocketPool>() ?? NullLogger.Instance;
        kernel ??= KernelSettings.Read(ProcFileSystem.Default);

        // Same rules as start-up validation (ValidateTuplePoolOptions), the bind probe included
        // for the public constructors, so a pool built by hand and one built by AddTuplePool
        // accept and refuse the same options.
        TuplePoolOptionsValidator.ThrowIfInvalid(options, kernel, probeSources, nameof(options));
        foreach (var fallback in kernel.Fallbacks)
        {
            Log.KernelFallback(logger, fallback);
        }

        // Bottom-up, each part from the ones before it; the meter's observable instruments are
        // connected last, once there is something to observe.
        var settings = new PoolSettings(options, _time);
        if (fleet is not null && options.Nat is null)
        {
            throw new ArgumentException("A fleet budget shares a NAT's ports: set TuplePoolOptions.Nat to describe the NAT (its PortsPerDestination is the fleet's).", nameof(options));
        }

        census ??= new KernelCensus(ProcFileSystem.Default);
        _budget = new TupleBudget(kernel, options, _time, fleet, census);
        var selector = new SourceSelector(options.SourceAddresses, options.SourceSelection, options.SourceQuarantine, _budget, _time, options.SourcePrefixes);
        selector.SourceRestored += source => Log.SourceRestored(logger, source.Address);
        var socketConnector = connector ?? new SocketConnector(kernel, options.LocalPortRange)
        {
            KeepAlive = options.KeepAlive,
            FreeBindPrefixes = options.SourcePrefixes.Where(static p => p.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6).ToList(),
        };
        _metrics = new TuplePoolMetrics(meterFactory, options, _time);
        _opener = new ConnectionOpener(selector, socketConnector, census, _metrics, logger, _time, options, _disposing.Token);
        _tuples = new TupleLookup(selector, _budget, _time);
        var errors = new AcquireErrors(new RefusalRecord(_time), _metrics, logger, options.AcquireTimeout, _time);
        _waiters = WaiterPolicy.CreatePool(_time);
        var context = new PoolContext(settings, _opener, _tuples, errors, _metrics, _waiters, logger, dnsLookup);
        _destinations = new DestinationRegistry(context);
        _reaper = _destinations.Reaper;
        _snapshots = _destinations.Snapshots;
        _metrics.Observe(_snapshots.Build, _snapshots.ReadTotals);

        if (logger.IsEnabled(LogLevel.Information))
        {
            Log.PoolStarted(
                logger,
                _budget.EffectiveRange,
                _budget.CapacityPerTuple,
                options.SourceAddresses.Count == 0 && options.SourcePrefixes.Count == 0 ? "kernel chooses" : string.Join(", ", options.SourceAddresses.Select(static a => a.ToString()).Concat(options.SourcePrefixes.Select(static p => $"{p} (prefix)"))),
                kernel.TcpTwReuse,
                kernel.KernelVersion?.ToString() ?? "unknown",
                (socketConnector as SocketConnector)?.SocketRange?.ToString() ?? "not set");
        }
    }

    /// <summary>Ports each (source, destination IP, destination port) tuple may use.</summary>
    public int CapacityPerTuple => _budget.CapacityPerTuple;

    /// <summary>The pool's <see cref="TuplePoolOptions.AcquireTimeout"/>.</summary>
    internal TimeSpan AcquireTimeout => _destinations.Settings.AcquireTimeout;

    /// <summary>True while the reaper's timer ticks (it stops when the pool has no destination and no ledger left).</summary>
    internal bool IsReaperRunning => _reaper.IsRunning;

    internal IdleReaper Reaper => _reaper;

    /// <summary>For the connect path's tests: the opener every destination connects with.</summary>
    internal ConnectionOpener Opener => _opener;

    internal DestinationRegistry Destinations => _destinations;

    /// <inheritdoc />
    public ValueTask<SocketLease> AcquireAsync(EndPoint destination, CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            ThrowHelper.ThrowPoolDisposed();
        }

        var pool = _destinations.Get(destination);
        return _metrics.AcquireDurationEnabled
            ? AcquireTimedAsync(pool, pool.Settings.AcquireTimeout, cancellationToken)
            : pool.AcquireAsync(cancellationToken);
    }

    /// <summary>
    /// As <see cref="AcquireAsync(EndPoint, CancellationToken)"/>, for a connection attempt of
    /// <c>SocketsHttpHandler</c> (<c>UseTuplePool</c>): bounded by <paramref name="timeout"/>
    /// instead of <see cref="TuplePoolOptions.AcquireTimeout"/> (the shorter of the two makes
    /// sense), so an exhausted budget surfaces as <see cref="TupleBudgetExhaustedException"/> before
    /// <c>SocketsHttpHandler.ConnectTimeout</c> cancels it; and a refusal counts as a background one
    /// (<see cref="TupleBudgetExhaustedException.IsBackground"/>) until a request is reported to receive it.
    /// </summary>
    internal ValueTask<SocketLease> AcquireForHttpAsync(EndPoint destination, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            ThrowHelper.ThrowPoolDisposed();
        }

        var pool = _destinations.Get(destination);
        return _metrics.AcquireDurationEnabled
            ? AcquireTimedAsync(pool, timeout, cancellationToken, AcquirePurpose.HttpConnect)
            : pool.AcquireAsync(timeout, AcquirePurpose.HttpConnect, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> WarmAsync(EndPoint destination, int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_disposed)
        {
            ThrowHelper.ThrowPoolDisposed();
        }

        return count == 0 ? new ValueTask<int>(0) : WarmCoreAsync(_destinations.Get(destination), count, cancellationToken);
    }

    /// <inheritdoc />
    public TuplePoolSnapshot GetSnapshot() => _snapshots.Build();

    /// <summary>
    /// Closes idle sockets, fails waiting acquirers with <see cref="ObjectDisposedException"/>, and
    /// closes leased sockets when they are returned.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return default;
        }

        _disposed = true;
        _destinations.Dispose(); // waiters fail, idle sockets close, the reaper stops
        _disposing.Cancel(); // connects in flight end (ObjectDisposedException) and release their charges
        _budget.FleetRegistration?.Dispose(); // the fleet hands back what nothing holds
        _metrics.Dispose();
        (_waiters as IDisposable)?.Dispose();
        return default;
    }

    /// <summary>Same as <see cref="DisposeAsync"/>, which never blocks; for containers disposed synchronously.</summary>
    public void Dispose() => DisposeAsync().GetAwaiter().GetResult();

    private async ValueTask<int> WarmCoreAsync(DestinationPool pool, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Null: the reaper retired this destination as we came in; warm the one that replaces it.
            if (await pool.WarmAsync(count, count, cancellationToken).ConfigureAwait(false) is { } opened)
            {
                return opened;
            }

            pool = _destinations.Successor(pool);
        }
    }

    private async ValueTask<SocketLease> AcquireTimedAsync(DestinationPool pool, TimeSpan timeout, CancellationToken cancellationToken, AcquirePurpose purpose = AcquirePurpose.Caller)
    {
        var started = _time.GetTimestamp();
        SocketLease lease;
        try
        {
            lease = await pool.AcquireAsync(timeout, purpose, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            pool.Metrics.RecordAcquireFailed(_time.GetElapsedTime(started), e);
            throw;
        }

        try
        {
            pool.Metrics.RecordAcquire(_time.GetElapsedTime(started), lease.IsReused);
        }
        catch
        {
            // A listener's exception is the caller's to see; the lease must not be lost with it.
            lease.Dispose();
            throw;
        }

        return lease;
    }
}
