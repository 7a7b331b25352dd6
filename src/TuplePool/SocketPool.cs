using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Internal;
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
public sealed class SocketPool : ISocketPool, IDisposable
{
    private readonly ConcurrentDictionary<EndPoint, DestinationPool> _destinations = new();
    private readonly TupleBudget _budget;
    private readonly SourceSelector _selector;
    private readonly TuplePoolOptions _options;
    private readonly ILogger _logger;
    private readonly ITimer? _reaper;
    private DestinationPool? _lastUsed;
    private int _reaperRunning;
    private int _ticks;
    private volatile bool _disposed;

    /// <summary>Creates a pool.</summary>
    /// <param name="options">The settings; copied, so later changes have no effect.</param>
    /// <param name="timeProvider">The clock for timeouts, TIME_WAIT and idle expiry; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="loggerFactory">Where log messages go (category <c>TuplePool.SocketPool</c>); none when null.</param>
    /// <param name="meterFactory">Creates the <c>TuplePool</c> meter; a standalone meter when null.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public SocketPool(TuplePoolOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(options, timeProvider, loggerFactory, meterFactory, connector: null, census: null, kernel: null)
    {
    }

    internal SocketPool(
        TuplePoolOptions options,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        IMeterFactory? meterFactory,
        ISocketConnector? connector,
        IKernelCensus? census,
        KernelSettings? kernel)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        var time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)loggerFactory?.CreateLogger<SocketPool>() ?? NullLogger.Instance;
        kernel ??= KernelSettings.Read(ProcFileSystem.Default);

        // Same rules as start-up validation, except the bind probe: a source not (yet) assigned
        // is left to run-time quarantine so one bad address does not stop the others.
        TuplePoolOptionsValidator.ThrowIfInvalid(_options, kernel, probeSources: false, nameof(options));
        foreach (var fallback in kernel.Fallbacks)
        {
            Log.KernelFallback(_logger, fallback);
        }

        Settings = new PoolSettings(_options, time);
        _budget = new TupleBudget(kernel, _options, time);
        _selector = new SourceSelector(_options.SourceAddresses, _options.SourceSelection, _options.SourceQuarantine, _budget, time);
        _selector.SourceRestored += source => Log.SourceRestored(_logger, source.Address);
        var socketConnector = connector ?? new SocketConnector(kernel, _options.LocalPortRange) { KeepAlive = _options.KeepAlive };
        Metrics = new TuplePoolMetrics(meterFactory, GetSnapshot, _options);
        Opener = new ConnectionOpener(_selector, socketConnector, census ?? new KernelCensus(ProcFileSystem.Default), Metrics, _logger, time, _options);
        if (Settings.TracksIdleTime || Settings.ValidateOnAcquire)
        {
            _reaper = time.CreateTimer(static state => ReapCallback(state), new WeakReference<SocketPool>(this), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.PoolStarted(
                _logger,
                _budget.EffectiveRange,
                _budget.CapacityPerTuple,
                _options.SourceAddresses.Count == 0 ? "kernel chooses" : string.Join(", ", _options.SourceAddresses),
                kernel.TcpTwReuse,
                kernel.KernelVersion?.ToString() ?? "unknown",
                (socketConnector as SocketConnector)?.SocketRange?.ToString() ?? "not set");
        }
    }

    /// <summary>Ports each (source, destination IP, destination port) tuple may use.</summary>
    public int CapacityPerTuple => _budget.CapacityPerTuple;

    internal PoolSettings Settings { get; }

    internal ConnectionOpener Opener { get; }

    internal TuplePoolMetrics Metrics { get; }

    internal bool IsDisposed => _disposed;

    /// <summary>True while the idle reaper's timer ticks (it stops when nothing is idle).</summary>
    internal bool IsReaperRunning => Volatile.Read(ref _reaperRunning) != 0;

    /// <inheritdoc />
    public ValueTask<SocketLease> AcquireAsync(EndPoint destination, CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            ThrowHelper.ThrowPoolDisposed();
        }

        // Callers usually pass the same EndPoint object again and again: skip the dictionary then.
        var pool = _lastUsed;
        if (pool is null || !ReferenceEquals(pool.Destination, destination))
        {
            pool = GetDestinationPool(destination);
        }

        return Metrics.AcquireDurationEnabled
            ? AcquireTimedAsync(pool, cancellationToken)
            : pool.AcquireAsync(cancellationToken);
    }

    /// <inheritdoc />
    public TuplePoolSnapshot GetSnapshot()
    {
        var idle = CountIdleByLedger();
        var tuples = new List<TupleUsage>();
        foreach (var ledger in _budget.Ledgers)
        {
            tuples.Add(Usage(ledger, idle.GetValueOrDefault(ledger)));
        }

        tuples.Sort(static (a, b) =>
        {
            var bySource = string.CompareOrdinal(a.Source.ToString(), b.Source.ToString());
            return bySource != 0 ? bySource : string.CompareOrdinal(a.Destination.ToString(), b.Destination.ToString());
        });
        return new TuplePoolSnapshot(tuples);
    }

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
        _reaper?.Dispose();
        var error = new ObjectDisposedException(nameof(SocketPool), "The pool was disposed while waiting for a connection.");
        foreach (var destination in _destinations.Values)
        {
            destination.Dispose(error);
        }

        Metrics.Dispose();
        return default;
    }

    /// <summary>Same as <see cref="DisposeAsync"/>, which never blocks; for containers disposed synchronously.</summary>
    public void Dispose() => DisposeAsync().GetAwaiter().GetResult();

    internal void ThrowIfDisposed()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowPoolDisposed();
        }
    }

    /// <summary>Starts the idle reaper unless it runs; called after each return to the idle store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void EnsureReaper()
    {
        if (_reaper is not null && Volatile.Read(ref _reaperRunning) == 0)
        {
            StartReaper();
        }
    }

    internal void OnConnectionClosed(DestinationPool owner, TupleLedger ledger)
    {
        // The owner lost an open connection, so a waiter held by MaxConnectionsPerDestination
        // (or by budget, for a Free close) may proceed. Other destinations share the tuple only
        // through the same IP address (a name and its address, two names for one address).
        // Graceful or abortive, a close wakes: a TIME_WAIT close gives a waiter an expiry to arm its timer on.
        owner.OnOwnConnectionClosed();
        if (_destinations.Count > 1)
        {
            OnRoomFreed(ledger.Tuple.Destination, except: owner);
        }
    }

    internal IEnumerable<TupleLedger> LedgersFor(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = Settings.Now();
        foreach (var address in addresses)
        {
            foreach (var source in _selector.SourcesFor(address.Address))
            {
                if (!source.IsQuarantined(now))
                {
                    yield return _budget.GetLedger(new ConnectionTuple(source.Address, address));
                }
            }
        }
    }

    internal bool HasSourcesFor(IReadOnlyList<IPEndPoint> addresses)
    {
        foreach (var address in addresses)
        {
            if (_selector.SourcesFor(address.Address).Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    internal TupleBudgetExhaustedException Exhausted(EndPoint destination, IReadOnlyList<IPEndPoint>? addresses)
    {
        var usage = new List<TupleUsage>();
        if (addresses is not null)
        {
            var idle = CountIdleByLedger();
            foreach (var address in addresses)
            {
                foreach (var source in _selector.SourcesFor(address.Address))
                {
                    var ledger = _budget.GetLedger(new ConnectionTuple(source.Address, address));
                    usage.Add(Usage(ledger, idle.GetValueOrDefault(ledger)));
                }
            }
        }

        var error = new TupleBudgetExhaustedException(destination, usage);
        var (host, port) = destination switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint name => (name.Host, name.Port),
            _ => (destination.ToString() ?? string.Empty, 0),
        };
        Metrics.RecordExhausted(host, port);
        Log.BudgetExhausted(_logger, destination, Settings.AcquireTimeout, string.Join("; ", usage));
        return error;
    }

    private void OnRoomFreed(IPEndPoint address, DestinationPool except)
    {
        // Enumerating the dictionary itself takes no locks and copies nothing (.Values does both).
        foreach (var entry in _destinations)
        {
            if (!ReferenceEquals(entry.Value, except))
            {
                entry.Value.OnRoomFreed(address);
            }
        }
    }

    private async ValueTask<SocketLease> AcquireTimedAsync(DestinationPool pool, CancellationToken cancellationToken)
    {
        var started = Settings.TimeProvider.GetTimestamp();
        var lease = await pool.AcquireAsync(cancellationToken).ConfigureAwait(false);
        Metrics.RecordAcquire(Settings.TimeProvider.GetElapsedTime(started), lease.IsReused);
        return lease;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DestinationPool GetDestinationPool(EndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!_destinations.TryGetValue(destination, out var pool))
        {
            ValidateDestination(destination);
            pool = _destinations.GetOrAdd(destination, static (d, self) => self.CreateDestinationPool(d), this);
            if (_disposed)
            {
                // DisposeAsync may have walked the dictionary before this pool was added.
                pool.Dispose(new ObjectDisposedException(nameof(SocketPool)));
                ThrowHelper.ThrowPoolDisposed();
            }
        }

        _lastUsed = pool;
        return pool;
    }

    private DestinationPool CreateDestinationPool(EndPoint destination)
    {
        var resolver = new AddressResolver(
            destination,
            family => _selector.SourcesFor(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any).Count > 0,
            Settings.TimeProvider,
            _options.DnsRefreshInterval,
            _logger);
        return new DestinationPool(this, destination, Opener.CreatePipeline(destination), resolver);
    }

    private static void ValidateDestination(EndPoint destination)
    {
        switch (destination)
        {
            case IPEndPoint ip:
                if (ip.Port == 0)
                {
                    throw new ArgumentException($"Destination {ip} has port 0; give the port to connect to.", nameof(destination));
                }

                if (ip.Address.Equals(IPAddress.Any) || ip.Address.Equals(IPAddress.IPv6Any) || ip.Address.Equals(IPAddress.Broadcast))
                {
                    throw new ArgumentException($"Destination {ip} is not a unicast address to connect to.", nameof(destination));
                }

                break;
            case DnsEndPoint name:
                if (name.Port == 0)
                {
                    throw new ArgumentException($"Destination {name.Host}:0 has port 0; give the port to connect to.", nameof(destination));
                }

                break;
            default:
                throw new ArgumentException($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination));
        }
    }

    /// <summary>Idle connections per tuple, over every destination (a name and its address share tuples).</summary>
    private Dictionary<TupleLedger, int> CountIdleByLedger()
    {
        var idle = new Dictionary<TupleLedger, int>();
        foreach (var destination in _destinations.Values)
        {
            destination.CountIdle(idle);
        }

        return idle;
    }

    private TupleUsage Usage(TupleLedger ledger, int idle)
    {
        var open = ledger.Open;
        return new TupleUsage(ledger.Tuple.Source, ledger.Tuple.Destination, ledger.Capacity, Math.Max(0, open - idle), Math.Min(idle, open), ledger.TimeWait, ledger.Remaining);
    }

    private void StartReaper()
    {
        if (Interlocked.CompareExchange(ref _reaperRunning, 1, 0) == 0)
        {
            try
            {
                Settings.RefreshClock();
                _reaper!.Change(Settings.ClockResolution, Settings.ClockResolution);
            }
            catch (ObjectDisposedException)
            {
                // Disposed concurrently: nothing left to reap.
            }
        }
    }

    private static void ReapCallback(object? state)
    {
        // The timer holds only a weak reference, so an abandoned pool can still be collected.
        if (((WeakReference<SocketPool>)state!).TryGetTarget(out var pool))
        {
            pool.Reap();
        }
    }

    private void Reap()
    {
        if (_disposed)
        {
            return;
        }

        Settings.RefreshClock();
        if (++_ticks % Settings.SweepEveryTicks != 0)
        {
            return;
        }

        var scratch = new List<PooledConnection>();
        var idleLeft = 0;
        foreach (var destination in _destinations.Values)
        {
            destination.Reap(scratch);
            idleLeft += destination.IdleCount;
        }

        if (idleLeft == 0)
        {
            // Nothing idle: stop ticking. A return racing with this stop sees the flag down and
            // restarts the timer; the second look catches one that pushed before the flag fell.
            try
            {
                _reaper!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            Volatile.Write(ref _reaperRunning, 0);
            foreach (var destination in _destinations.Values)
            {
                if (destination.IdleCount > 0)
                {
                    StartReaper();
                    break;
                }
            }
        }
    }
}
