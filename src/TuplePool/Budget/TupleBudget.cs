using System.Collections.Concurrent;
using TuplePool.Platform;

namespace TuplePool.Budget;

/// <summary>
/// All tuple ledgers of one pool, created on first use, with the capacity and TIME_WAIT charge
/// the kernel settings imply.
/// </summary>
internal sealed class TupleBudget
{
    private readonly ConcurrentDictionary<ConnectionTuple, TupleLedger> _ledgers = new();
    private readonly KernelSettings _kernel;
    private readonly TimeSpan _timeWaitDuration;
    private readonly TimeProvider _timeProvider;

    public TupleBudget(KernelSettings kernel, TuplePoolOptions options, TimeProvider timeProvider)
    {
        _kernel = kernel;
        _timeProvider = timeProvider;
        _timeWaitDuration = options.TimeWaitDuration;
        EffectiveRange = ComputeEffectiveRange(kernel, options.LocalPortRange);
        SearchRange = options.LocalPortRange is not null && kernel.SupportsLocalPortRange ? EffectiveRange : kernel.PortRange;
        CapacityPerTuple = Math.Max(0, EffectiveRange.Count - kernel.CountReservedIn(EffectiveRange) - options.ReservedPortsPerTuple);
    }

    /// <summary>The ports the kernel will actually pick from for this pool's sockets.</summary>
    public PortRange EffectiveRange { get; }

    /// <summary>
    /// The ports the kernel's search for a free port walks for this pool's sockets: the effective
    /// range when <c>IP_LOCAL_PORT_RANGE</c> narrows it per socket, else the whole system range
    /// (also when the kernel ignores the option and the pool only budgets fewer ports). Only a
    /// socket with its local port in here can take a port from that search.
    /// </summary>
    public PortRange SearchRange { get; }

    /// <summary>Ports in the effective range, less reserved ports and <see cref="TuplePoolOptions.ReservedPortsPerTuple"/>.</summary>
    public int CapacityPerTuple { get; }

    public TupleLedger GetLedger(ConnectionTuple tuple)
    {
        if (_ledgers.TryGetValue(tuple, out var ledger) && !ledger.IsRetired)
        {
            return ledger;
        }

        while (true)
        {
            // Losing the race is fine: GetOrAdd returns the winner and the loser is garbage.
            ledger = _ledgers.GetOrAdd(tuple, static (t, self) => new TupleLedger(t, self.CapacityPerTuple, self.TimeWaitChargeFor(t), self._timeProvider), this);
            if (!ledger.IsRetired)
            {
                return ledger;
            }

            // Retired by RemoveUnused a moment ago and not yet taken out: take it out, add a fresh one.
            _ledgers.TryRemove(new KeyValuePair<ConnectionTuple, TupleLedger>(tuple, ledger));
        }
    }

    /// <summary>Charges one port of <paramref name="tuple"/> for a new connection; null when it has no room.</summary>
    public ConnectionCharge? TryCharge(ConnectionTuple tuple)
    {
        var ledger = GetLedger(tuple);
        return ledger.TryReserve() ? new ConnectionCharge(ledger) : null;
    }

    public ICollection<TupleLedger> Ledgers => _ledgers.Values;

    public bool IsEmpty => _ledgers.IsEmpty;

    /// <summary>
    /// Drops the ledgers <paramref name="unused"/> picks whose tuples hold nothing (no open
    /// connection, TIME_WAIT or census correction), so a pool that stopped talking to a
    /// destination does not keep its ledgers for good. A reservation racing with this finds the
    /// ledger retired and full; the next <see cref="GetLedger"/> makes a fresh one.
    /// </summary>
    public int RemoveUnused(Func<TupleLedger, bool> unused)
    {
        var removed = 0;
        foreach (var entry in _ledgers)
        {
            if (unused(entry.Value) && entry.Value.TryRetire() && _ledgers.TryRemove(entry))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>
    /// 60 s (<see cref="TuplePoolOptions.TimeWaitDuration"/>) unless <c>tcp_tw_reuse</c> lets a
    /// new outgoing connection take the tuple over once the TIME_WAIT socket is
    /// <c>tcp_tw_reuse_delay</c> old: mode 1 always, mode 2 (the default) only when the source or
    /// destination is a loopback address, and in both only with <c>tcp_timestamps</c> on
    /// (<see cref="KernelSettings.IsTimeWaitReusable"/>).
    /// </summary>
    public TimeSpan TimeWaitChargeFor(ConnectionTuple tuple)
    {
        if (_kernel.IsTimeWaitReusable(tuple.Source, tuple.Destination.Address))
        {
            return _kernel.TcpTwReuseDelay < _timeWaitDuration ? _kernel.TcpTwReuseDelay : _timeWaitDuration;
        }

        return _timeWaitDuration;
    }

    private static PortRange ComputeEffectiveRange(KernelSettings kernel, PortRange? requested)
    {
        var system = kernel.PortRange;
        if (requested is not { } local)
        {
            return system;
        }

        if (kernel.SupportsLocalPortRange)
        {
            // The kernel clamps a socket's IP_LOCAL_PORT_RANGE into the system range.
            var first = Math.Max(system.First, local.First);
            var last = Math.Min(system.Last, local.Last);
            return first <= last ? new PortRange(first, last) : default;
        }

        // The kernel ignores the option: sockets may take any system port, but the pool keeps to
        // the smaller count the user asked for.
        return local.Count < system.Count ? new PortRange(system.First, system.First + local.Count - 1) : system;
    }
}
