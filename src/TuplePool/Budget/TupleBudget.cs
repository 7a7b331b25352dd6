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
        CapacityPerTuple = Math.Max(0, EffectiveRange.Count - kernel.CountReservedIn(EffectiveRange) - options.ReservedPortsPerTuple);
    }

    /// <summary>The ports the kernel will actually pick from for this pool's sockets.</summary>
    public PortRange EffectiveRange { get; }

    /// <summary>Ports in the effective range, less reserved ports and <see cref="TuplePoolOptions.ReservedPortsPerTuple"/>.</summary>
    public int CapacityPerTuple { get; }

    public TupleLedger GetLedger(ConnectionTuple tuple)
    {
        if (_ledgers.TryGetValue(tuple, out var ledger))
        {
            return ledger;
        }

        // Losing the race is fine: GetOrAdd returns the winner and the loser is garbage.
        return _ledgers.GetOrAdd(tuple, static (t, self) => new TupleLedger(t, self.CapacityPerTuple, self.TimeWaitChargeFor(t), self._timeProvider), this);
    }

    public ICollection<TupleLedger> Ledgers => _ledgers.Values;

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
