using System.Globalization;
using System.Net;
using System.Text;

namespace TuplePool.Budget;

/// <summary>
/// Names the cause of a refusal from what the pool read when it gave up, and words the message:
/// a headline that names the cause with its numbers, the per-source numbers it rests on, when
/// room may come, and what to do about that cause. Pure: the same usage and facts give the same
/// cause and message, so tests can state each rule without a pool.
/// </summary>
/// <remarks>
/// The order of the rules is the order the pool meets the limits in: the wait line is checked
/// before anything else, the NAT before the local tuples, the connection limit before a port is
/// chosen. Among the ports the biggest holder is named (ties go to the pool's own connections,
/// then its own TIME_WAIT, its own closes still closing, other sockets' TIME_WAIT, other
/// sockets), and the headline says how many of the ports it holds, so it can never disagree with
/// the numbers under it.
/// </remarks>
internal static class RefusalExplanation
{
    public static RefusalCause Classify(IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, RefusalFacts facts)
        => facts.WaitLineLimit is not null ? RefusalCause.WaitLineFull : ClassifyRoom(usage, nat, facts);

    public static string Describe(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, RefusalFacts facts)
    {
        var cause = Classify(usage, nat, facts);
        var ports = new PortSums(usage);
        var text = new StringBuilder();
        if (cause == RefusalCause.WaitLineFull)
        {
            text.Append(Invariant($"No connection to {Show(destination)} is free and the wait line is full: {facts.WaitLineLimit} callers are already waiting (TuplePoolOptions.MaxPendingAcquires). What they wait for: "));
            cause = ClassifyRoom(usage, nat, facts);
        }

        if (cause == RefusalCause.Nat)
        {
            text.Append(Invariant($"No port is free to {Show(destination)} through the NAT on the path: this instance holds every port the NAT gives it there"))
                .Append(" (").AppendJoin("; ", nat.Select(static n => n.ToString())).Append(").")
                .Append(" A NAT that runs out drops the SYN, so the pool waits instead of connecting.");
            AppendRetryAfter(text, facts);
            text.Append(" Reuse connections (a close keeps the NAT's port for NatOptions.HoldAfterClose),")
                .Append(" give the NAT more addresses or ports and raise NatOptions.PortsPerDestination, or, in a fleet, check the share the fleet budget grants.");
            return text.ToString();
        }

        text.Append(Headline(cause, destination, ports, facts));
        text.Append(usage.Count == 0 ? " (no usage recorded)." : $" ({DescribeUsage(usage)}).");
        if (cause is not RefusalCause.SourcesQuarantined && ports.Quarantined.Count > 0)
        {
            text.Append(Invariant($" {Join(ports.Quarantined)} {(ports.Quarantined.Count == 1 ? "is" : "are")} quarantined (binding failed) and give{(ports.Quarantined.Count == 1 ? "s" : string.Empty)} no port meanwhile."));
        }

        if (cause is not (RefusalCause.ExternalTimeWait or RefusalCause.HeldByOtherSockets) && ports.External > 0)
        {
            text.Append(Invariant($" The kernel counts {ports.External} ports of these tuples held by sockets this pool does not own (other programs, or TIME_WAIT an earlier run left)."));
        }

        if (cause is RefusalCause.ActiveConnections or RefusalCause.ConnectionLimit)
        {
            AppendLeases(text, facts);
        }

        AppendRetryAfter(text, facts);
        text.Append(' ').Append(Advice(cause));
        return text.ToString();
    }

    /// <summary>"127.0.0.2: 1 active, 0 idle, 0 TIME_WAIT, 0 held by other sockets of 2; …", as the message and log event 4 show it.</summary>
    public static string DescribeUsage(IReadOnlyList<TupleUsage> usage)
    {
        var text = new StringBuilder();
        for (var i = 0; i < usage.Count; i++)
        {
            if (i > 0)
            {
                text.Append("; ");
            }

            var u = usage[i];
            text.Append(CultureInfo.InvariantCulture, $"{u.Source}{(u.IsQuarantined ? " (quarantined)" : string.Empty)}: {u.Active} active, {u.Idle} idle, {u.TimeWait} TIME_WAIT, {(u.Closing > 0 ? Invariant($"{u.Closing} closing, ") : string.Empty)}{u.External} held by other sockets");
            if (u.ExternalTimeWait > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $" ({u.ExternalTimeWait} in TIME_WAIT)");
            }

            text.Append(CultureInfo.InvariantCulture, $" of {u.Capacity}");
        }

        return text.ToString();
    }

    private static RefusalCause ClassifyRoom(IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, RefusalFacts facts)
    {
        if (nat.Count > 0 && nat.All(static n => n.Remaining == 0))
        {
            return RefusalCause.Nat;
        }

        if (facts.AtConnectionLimit)
        {
            return RefusalCause.ConnectionLimit;
        }

        var ports = new PortSums(usage);
        if (usage.Count == 0 || ports.Remaining > 0)
        {
            return RefusalCause.Unknown; // nothing recorded, or room came back as the wait ended
        }

        if (ports.QuarantinedWithRoom > 0 || ports.Capacity == 0 && ports.Quarantined.Count > 0)
        {
            return RefusalCause.SourcesQuarantined; // the sources that had room could not be bound
        }

        var (cause, count) = ports.Biggest();
        return count == 0 ? RefusalCause.Unknown : cause;
    }

    private static string Headline(RefusalCause cause, EndPoint destination, PortSums ports, RefusalFacts facts)
    {
        var to = Show(destination);
        var (_, count) = ports.Biggest();
        var share = count == ports.Capacity ? Invariant($"all {ports.Capacity} ports") : Invariant($"{count} of the {ports.Capacity} ports");
        var on = Invariant($"on {ports.Sources} source address{(ports.Sources == 1 ? string.Empty : "es")}");
        return cause switch
        {
            RefusalCause.ActiveConnections => Invariant($"No port is free to {to}: {share} {on} are held by this pool's open connections ({ports.Active} leased out or being opened{(ports.Idle > 0 ? Invariant($", {ports.Idle} idle for another destination of the same address") : string.Empty)}); a backend slow to answer holds them, or leases that are not disposed."),
            RefusalCause.TimeWait => Invariant($"No port is free to {to}: {share} {on} are in TIME_WAIT after this pool's own graceful closes (each close holds its port for up to 60 s)."),
            RefusalCause.ClosingConnections => Invariant($"No port is free to {to}: {share} {on} are held by this pool's closed connections the kernel has not let go yet (FIN-WAIT, CLOSING or LAST-ACK): the peer is slow to answer the close, never reads, or is gone."),
            RefusalCause.ExternalTimeWait => Invariant($"No port is free to {to}: the kernel refused one, and {share} {on} are TIME_WAIT sockets this pool does not own, closes of an earlier process (a restart within 60 s) or this pool's own closes outliving their charge; each ends within 60 s of its close."),
            RefusalCause.HeldByOtherSockets => Invariant($"No port is free to {to}: the kernel refused one, and {share} {on} are held by sockets this pool does not own, other programs' connections to the same address and port."),
            RefusalCause.ConnectionLimit => Invariant($"No connection to {to} could be opened: {Count(facts.OpenToDestination, "connection")} to it {(facts.OpenToDestination == 1 ? "is" : "are")} open (leased, idle or being opened) and TuplePoolOptions.MaxConnectionsPerDestination is {facts.MaxConnections}; {(ports.Remaining > 0 ? Invariant($"{Count(ports.Remaining, "port")} {(ports.Remaining == 1 ? "is" : "are")} still free") : "no port is free either")}."),
            RefusalCause.SourcesQuarantined when ports.Capacity == 0 => Invariant($"No port is free to {to}: every source address ({Join(ports.Quarantined)}) is quarantined, binding to it failed; each is tried again after TuplePoolOptions.SourceQuarantine."),
            RefusalCause.SourcesQuarantined => Invariant($"No port is free to {to} on the source addresses in use, and {Join(ports.QuarantinedWithRoomSources)}, with {ports.QuarantinedWithRoom} ports free, {(ports.QuarantinedWithRoomSources.Count == 1 ? "is" : "are")} quarantined: binding failed, and {(ports.QuarantinedWithRoomSources.Count == 1 ? "it is" : "they are")} tried again after TuplePoolOptions.SourceQuarantine."),
            _ when ports.Remaining > 0 => Invariant($"No port was free to {to} while the acquire waited; {Count(ports.Remaining, "port")} {(ports.Remaining == 1 ? "was" : "were")} free again when the usage was read (a TIME_WAIT or a kernel refusal's hold ended just then)."),
            _ => Invariant($"No port is free to {to}."),
        };
    }

    private static string Advice(RefusalCause cause) => cause switch
    {
        RefusalCause.ActiveConnections => "Dispose each SocketLease (and each HttpResponseMessage) as soon as its exchange is done and bound how long the backend may take; if this many connections at once is expected, add source addresses (TuplePoolOptions.SourceAddresses) or widen the port range (LocalPortRange or net.ipv4.ip_local_port_range).",
        RefusalCause.TimeWait => "Reuse connections instead of closing them (MaxIdlePerDestination, IdleTimeout), close with CloseMode.Abortive where the protocol allows it, or add source addresses (TuplePoolOptions.SourceAddresses) or widen the port range (LocalPortRange).",
        RefusalCause.ClosingConnections => "Check the backend's health (a peer that stops reading keeps each close in FIN-WAIT), turn on TuplePoolOptions.KeepAlive so dead peers are found, or close with CloseMode.Abortive, which frees the port at once.",
        RefusalCause.ExternalTimeWait => "Wait for them to end, give each process of a restart its own LocalPortRange slice, or close with CloseMode.Abortive so closes leave no TIME_WAIT; net.ipv4.tcp_tw_reuse=1 lets the kernel reuse them once they are 1 s old.",
        RefusalCause.HeldByOtherSockets => "Find them with `ss -tanp` (it names each socket's process); give this pool a LocalPortRange slice no other program uses, or add source addresses (TuplePoolOptions.SourceAddresses).",
        RefusalCause.ConnectionLimit => "Return leases sooner, or raise TuplePoolOptions.MaxConnectionsPerDestination if the backend can take more connections.",
        RefusalCause.SourcesQuarantined => "Check that each source address is assigned to this machine (`ip address`), or take it out of TuplePoolOptions.SourceAddresses.",
        _ => "Add source addresses (TuplePoolOptions.SourceAddresses), widen the port range (LocalPortRange or net.ipv4.ip_local_port_range), or reuse connections instead of closing them (each graceful close holds its port in TIME_WAIT for 60 s).",
    };

    private static void AppendLeases(StringBuilder text, RefusalFacts facts)
    {
        if (facts.OldestLeases.Count == 0)
        {
            return;
        }

        text.Append(" The oldest leases to it were lent ")
            .AppendJoin(", ", facts.OldestLeases.Select(static l => Invariant($"{ShowSpan(l.Age)} ago ({l.Connection})")))
            .Append('.');
    }

    private static void AppendRetryAfter(StringBuilder text, RefusalFacts facts)
    {
        if (facts.RetryAfter is { } after)
        {
            text.Append(Invariant($" Room may come by itself in {ShowSpan(after)} (the next charged port or quarantine runs out then)."));
        }
    }

    private static string ShowSpan(TimeSpan span)
        => span >= TimeSpan.FromMinutes(2)
            ? Invariant($"{span.TotalMinutes:0.#} min")
            : Invariant($"{span.TotalSeconds:0.#} s");

    private static string Count(int count, string noun) => Invariant($"{count} {noun}{(count == 1 ? string.Empty : "s")}");

    private static string Join(IReadOnlyList<IPAddress> addresses) => string.Join(", ", addresses);

    private static string Show(EndPoint destination) => destination is DnsEndPoint name ? $"{name.Host}:{name.Port}" : destination.ToString() ?? string.Empty;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The usage summed over the sources that can give ports (not quarantined), and what the quarantined ones hold back.</summary>
    private readonly struct PortSums
    {
        public PortSums(IReadOnlyList<TupleUsage> usage)
        {
            var quarantined = new List<IPAddress>();
            var withRoom = new List<IPAddress>();
            var sources = new HashSet<IPAddress>();
            foreach (var u in usage)
            {
                if (u.IsQuarantined)
                {
                    if (!quarantined.Contains(u.Source))
                    {
                        quarantined.Add(u.Source);
                    }

                    // What it would give were it not quarantined.
                    var room = Math.Max(0, u.Capacity - u.Active - u.Idle - u.TimeWait - u.Closing - u.External);
                    if (room > 0)
                    {
                        QuarantinedWithRoom += room;
                        if (!withRoom.Contains(u.Source))
                        {
                            withRoom.Add(u.Source);
                        }
                    }

                    continue;
                }

                sources.Add(u.Source);
                Capacity += u.Capacity;
                Active += u.Active;
                Idle += u.Idle;
                TimeWait += u.TimeWait;
                Closing += u.Closing;
                External += u.External;
                ExternalTimeWait += u.ExternalTimeWait;
                Remaining += u.Remaining;
            }

            Sources = sources.Count;
            Quarantined = quarantined;
            QuarantinedWithRoomSources = withRoom;
        }

        public int Sources { get; }

        public int Capacity { get; }

        public int Active { get; }

        public int Idle { get; }

        public int TimeWait { get; }

        public int Closing { get; }

        public int External { get; }

        public int ExternalTimeWait { get; }

        public int Remaining { get; }

        public int QuarantinedWithRoom { get; }

        public IReadOnlyList<IPAddress> Quarantined { get; }

        public IReadOnlyList<IPAddress> QuarantinedWithRoomSources { get; }

        /// <summary>The biggest holder of the ports and how many it holds; ties go to the earlier one.</summary>
        public (RefusalCause Cause, int Count) Biggest()
        {
            (RefusalCause, int)[] holders =
            [
                (RefusalCause.ActiveConnections, Active + Idle),
                (RefusalCause.TimeWait, TimeWait),
                (RefusalCause.ClosingConnections, Closing),
                (RefusalCause.ExternalTimeWait, ExternalTimeWait),
                (RefusalCause.HeldByOtherSockets, External - ExternalTimeWait),
            ];
            var best = holders[0];
            foreach (var holder in holders)
            {
                if (holder.Item2 > best.Item2)
                {
                    best = holder;
                }
            }

            return best;
        }
    }
}
