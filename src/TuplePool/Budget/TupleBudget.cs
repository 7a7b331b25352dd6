using System.Collections.Concurrent;
using System.Net;
using TuplePool.Platform;

namespace TuplePool.Budget;

/// <summary>
/// Everything one pool is charged with, by destination address (<see cref="DestinationTuples"/>:
/// the local tuples' ledgers of the sources that hold something there, and the NAT's ledger when
/// the address is behind one), with the capacity and TIME_WAIT charge the kernel settings imply.
/// Entries exist while they hold something; an expiry queue looks at each one when its next hold
/// ends, so the work of expiring is proportional to what is due, never to everything held.
/// </summary>
internal sealed class TupleBudget
{
    private readonly ConcurrentDictionary<IPEndPoint, DestinationTuples> _destinations = new();
    private readonly PriorityQueue<DestinationTuples, long> _expiries = new();
    private readonly KernelSettings _kernel;
    private readonly TimeSpan _timeWaitDuration;
    private readonly TimeProvider _timeProvider;
    private readonly NatOptions? _nat;
    private readonly IFleetBudget? _fleet;
    private readonly IKernelCensus? _census;

    /// <summary>A pool's budget; with <paramref name="fleet"/>, the NAT's ports are drawn from the fleet's grants.</summary>
    /// <exception cref="ArgumentException">A fleet without a NAT in <paramref name="options"/>.</exception>
    /// <param name="kernel">The kernel's settings.</param>
    /// <param name="options">The pool's options.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="fleet">Where the NAT's ports come from, in a fleet; null for none.</param>
    /// <param name="census">
    /// The kernel's socket table: when it answers through <c>NETLINK_SOCK_DIAG</c>, every closed
    /// socket stays charged for as long as the kernel keeps its 4-tuple; without it (or on the
    /// <c>/proc</c> fallback, which reads the whole table for each question) a close is charged by
    /// the fixed TIME_WAIT time.
    /// </param>
    public TupleBudget(KernelSettings kernel, TuplePoolOptions options, TimeProvider timeProvider, IFleetBudget? fleet = null, IKernelCensus? census = null)
    {
        _kernel = kernel;
        if (census is { Backend: CensusBackend.SockDiag })
        {
            _census = census;
        }

        _timeProvider = timeProvider;
        _timeWaitDuration = options.TimeWaitDuration;
        _nat = options.Nat;
        if (fleet is not null)
        {
            if (_nat is null)
            {
                throw new ArgumentException("A fleet budget shares a NAT's ports; set TuplePoolOptions.Nat to describe the NAT.", nameof(fleet));
            }

            _fleet = fleet;
            FleetRegistration = fleet.Attach(_nat.Clone(), destination => Find(destination)?.NotifyWatchers());
        }

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

    /// <summary>The NAT on the path, or null.</summary>
    public NatOptions? NatOptions => _nat;

    /// <summary>Every address the budget holds something for.</summary>
    public ICollection<DestinationTuples> Destinations => _destinations.Values;

    /// <summary>Every ledger held, over every address.</summary>
    public IEnumerable<TupleLedger> Ledgers => _destinations.Values.SelectMany(static d => d.Ledgers);

    public bool IsEmpty => _destinations.IsEmpty;

    /// <summary>The pool's registration with its fleet budget (disposed with the pool), or null without one.</summary>
    public IDisposable? FleetRegistration { get; }

    /// <summary>The fleet the NAT's ports are drawn from, or null.</summary>
    public IFleetBudget? Fleet => _fleet;

    /// <summary>True when closed sockets are charged for as long as the kernel keeps them (the census answers by netlink).</summary>
    public bool FollowsKernel => _census is not null;

    /// <summary>True when connections to <paramref name="destination"/> cross the NAT.</summary>
    public bool CrossesNat(IPEndPoint destination)
    {
        if (_nat is null)
        {
            return false;
        }

        var networks = _nat.Destinations;
        if (networks.Count == 0)
        {
            return !IPAddress.IsLoopback(destination.Address);
        }

        foreach (var network in networks)
        {
            if (network.Contains(destination.Address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The entry for <paramref name="destination"/>, created when new (the caller's address object becomes its key: give the pool's own copy).</summary>
    public DestinationTuples For(IPEndPoint destination)
    {
        while (true)
        {
            var entry = _destinations.GetOrAdd(destination, static (d, self) => new DestinationTuples(self, d, self.CrossesNat(d) ? new NatLedger(d, self._nat!, self._fleet, self._timeProvider) : null), this);
            if (!entry.IsRetired)
            {
                return entry;
            }

            // Retired a moment ago and not yet taken out: take it out, add a fresh one.
            _destinations.TryRemove(new KeyValuePair<IPEndPoint, DestinationTuples>(destination, entry));
        }
    }

    /// <summary>The entry for <paramref name="destination"/> when the budget holds anything for it.</summary>
    public DestinationTuples? Find(IPEndPoint destination)
        => _destinations.TryGetValue(destination, out var entry) && !entry.IsRetired ? entry : null;

    /// <summary>The ledger of <paramref name="tuple"/> when it holds something; null means its whole capacity is free.</summary>
    public TupleLedger? FindLedger(ConnectionTuple tuple) => Find(tuple.Destination)?.Find(tuple.Source);

    /// <summary>Charges one port of <paramref name="tuple"/> (and the NAT's, behind one) for a new connection; null when it has no room.</summary>
    public ConnectionCharge? TryCharge(ConnectionTuple tuple)
    {
        while (true)
        {
            var charge = For(tuple.Destination).TryCharge(tuple.Source, out var tryAgain);
            if (!tryAgain)
            {
                return charge;
            }
        }
    }

    /// <summary>
    /// Expires what is due (the entries whose next hold ended by now) and drops what then holds
    /// nothing. Called on the pool's timer tick; its work is the entries due, not every entry.
    /// </summary>
    public void ExpireDue(long now)
    {
        List<DestinationTuples>? due = null;
        lock (_expiries)
        {
            while (_expiries.TryPeek(out var entry, out var at) && at <= now)
            {
                _expiries.Dequeue();
                if (entry.ScheduledAt == at)
                {
                    entry.ScheduledAt = 0;
                    (due ??= []).Add(entry);
                }
            }
        }

        if (due is null)
        {
            return;
        }

        if (_census is not null)
        {
            AskTheKernel(due, now);
        }

        foreach (var entry in due)
        {
            if (entry.Expire() is { } next)
            {
                ScheduleExpiry(entry, next);
            }
            else
            {
                RemoveIfEmpty(entry);
            }
        }
    }

    /// <summary>Entries waiting in the expiry queue (for tests and the sweep's cost).</summary>
    internal int ScheduledCount
    {
        get
        {
            lock (_expiries)
            {
                return _expiries.Count;
            }
        }
    }

    internal TupleLedger CreateLedger(ConnectionTuple tuple) => new(tuple, CapacityPerTuple, TimeWaitChargeFor(tuple), _timeProvider, followsKernel: _census is not null);

    /// <summary>
    /// Asks the kernel, in one batch of 4-tuple lookups, about every closed socket of the due
    /// entries that needs a look, and charges each as the kernel has it; wakes the callers waiting
    /// on an address where a port came free (a reset instead of a TIME-WAIT) or got a known end.
    /// </summary>
    private void AskTheKernel(List<DestinationTuples> due, long now)
    {
        var lookups = new List<TcpFourTuple>();
        foreach (var entry in due)
        {
            foreach (var ledger in entry.Ledgers)
            {
                ledger.CollectDueChecks(now, lookups);
            }
        }

        if (lookups.Count == 0)
        {
            return;
        }

        var results = new List<KernelSocket>(lookups.Count);
        var answered = false;
        try
        {
            answered = _census!.TryLookup(lookups, results);
        }
#pragma warning disable CA1031 // The census is a kernel interface: whatever it throws, the timer takes over.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        var found = new Dictionary<TcpFourTuple, KernelSocket>(results.Count);
        foreach (var socket in results)
        {
            found[new TcpFourTuple(TupleLedger.Unscoped(socket.LocalAddress), socket.LocalPort, TupleLedger.Unscoped(socket.RemoteAddress), socket.RemotePort)] = socket;
        }

        foreach (var entry in due)
        {
            var changed = 0;
            foreach (var ledger in entry.Ledgers)
            {
                if (answered)
                {
                    changed += ledger.ApplyKernelAnswer(now, found);
                }
                else
                {
                    ledger.FallBackToTimer(now);
                }
            }

            if (changed > 0)
            {
                // Room came, or a time when it will: a waiter armed no timer for either.
                entry.NotifyWatchers();
            }
        }
    }

    /// <summary>Makes the expiry queue look at <paramref name="entry"/> at <paramref name="at"/> (unless it already looks sooner).</summary>
    internal void ScheduleExpiry(DestinationTuples entry, long at)
    {
        lock (_expiries)
        {
            if (entry.ScheduledAt == 0 || at < entry.ScheduledAt)
            {
                entry.ScheduledAt = at;
                _expiries.Enqueue(entry, at);
            }
        }
    }

    /// <summary>Takes <paramref name="entry"/> out when it holds nothing any more.</summary>
    internal void RemoveIfEmpty(DestinationTuples entry)
    {
        if (entry.TryRetire() && _destinations.TryRemove(new KeyValuePair<IPEndPoint, DestinationTuples>(entry.Destination, entry)) && entry.Nat is not null)
        {
            _fleet?.Report(entry.Destination, held: 0, waiting: 0);
        }
    }

    /// <summary>Tells the fleet what this instance holds through the NAT to the entry's address and how many wait.</summary>
    internal void ReportToFleet(DestinationTuples entry, int atLeastWaiting = 0)
    {
        if (_fleet is { } fleet && entry.Nat is { } nat)
        {
            fleet.Report(entry.Destination, nat.Held, Math.Max(atLeastWaiting, entry.Waiting));
        }
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
