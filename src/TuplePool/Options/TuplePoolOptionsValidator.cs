using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TuplePool.Internal;
using TuplePool.Platform;

namespace TuplePool.Options;

/// <summary>
/// Every rule a <see cref="TuplePoolOptions"/> must satisfy, in one place, so a pool built by
/// hand fails the same way as one built through <c>AddTuplePool</c> (which runs this at start-up
/// through its <c>IValidateOptions</c> adapter in Hosting). Each message starts with the setting's name
/// and quotes the bad value. No reflection, so it is trim- and AOT-safe.
/// </summary>
internal static class TuplePoolOptionsValidator
{
    /// <summary>
    /// The largest finite time span the pool's timers accept (<c>uint.MaxValue - 1</c> ms, about
    /// 49.7 days; <see cref="System.Threading.CancellationTokenSource.CancelAfter(TimeSpan)"/> and
    /// <see cref="TimeProvider.CreateTimer"/> reject longer ones).
    /// </summary>
    public static readonly TimeSpan MaxFiniteTimeSpan = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Shortest Happy Eyeballs delay: 10 ms (RFC 8305 advises no less than 100 ms on real networks).</summary>
    public static readonly TimeSpan MinHappyEyeballsDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Shortest source quarantine: 100 ms. With 0 a source that fails to bind is back at once and
    /// is picked (it has the most room) by every connect, each failing and retrying elsewhere.
    /// </summary>
    public static readonly TimeSpan MinSourceQuarantine = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Most idle connections per destination: 1,048,576, the kernel's largest <c>fs.nr_open</c>
    /// (the most files one process can ever have open), so a larger number can never be reached
    /// and only hides a typo (<see cref="int.MaxValue"/> for "unlimited").
    /// </summary>
    public const int MaxIdlePerDestination = 1_048_576;

    /// <summary>Most connect attempts per new connection.</summary>
    public const int MaxConnectAttempts = 100;

    /// <summary>Most ports kept back per tuple: one fewer than any tuple has (ports 1–65535).</summary>
    public const int MaxReservedPortsPerTuple = 65534;

    /// <summary>Shortest connect timeout: 10 ms (also Polly's timeout strategy minimum).</summary>
    public static readonly TimeSpan MinConnectTimeout = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest connect timeout: 1 day (also Polly's timeout strategy maximum).</summary>
    public static readonly TimeSpan MaxConnectTimeout = TimeSpan.FromDays(1);

    /// <summary>
    /// Validates <paramref name="options"/> against <paramref name="kernel"/> (the settings the pool
    /// itself uses), or against this machine's kernel (<see cref="KernelSettings.Current"/>) when
    /// null, read only when a rule needs it.
    /// </summary>
    /// <param name="options">The options to check.</param>
    /// <param name="kernel">The kernel facts; null reads this machine's.</param>
    /// <param name="probeSources">
    /// Bind a socket to each source address to check it is assigned to this machine. True for
    /// start-up validation; a pool constructor may pass false and leave an address that is not (yet)
    /// assigned to the pool's source quarantine at run time.
    /// </param>
    /// <returns>One message per problem, each starting with the setting's name; empty when valid.</returns>
    public static IReadOnlyList<string> Validate(TuplePoolOptions options, KernelSettings? kernel = null, bool probeSources = true)
        => Validate(
            options,
            kernel is null ? static () => KernelSettings.Current : () => kernel,
            probeSources ? SourceAddressProbe.TryBind : static _ => null,
            probeSources ? SourcePrefixProbe.Check : static _ => null);

    /// <summary>
    /// Throws <see cref="ArgumentException"/> listing every problem when <paramref name="options"/>
    /// is not valid; see <see cref="Validate(TuplePoolOptions, KernelSettings?, bool)"/>. For
    /// constructors: <c>TuplePoolOptionsValidator.ThrowIfInvalid(options, kernel, probeSources: false)</c>.
    /// </summary>
    public static void ThrowIfInvalid(TuplePoolOptions options, KernelSettings? kernel = null, bool probeSources = true, string paramName = "options")
    {
        var failures = Validate(options, kernel, probeSources);
        if (failures.Count > 0)
        {
            throw new ArgumentException(
                "TuplePoolOptions are not valid: " + string.Join(" ", failures),
                paramName);
        }
    }

    /// <summary>The rules, with the kernel facts and the address probe as seams for tests.</summary>
    /// <param name="options">The options to check.</param>
    /// <param name="readKernel">
    /// Called at most once, and only when a port rule needs the kernel. The facts count as unknown
    /// (the rules that need them are skipped rather than judged against a guessed default) when it
    /// returns null, when the machine is not Linux, or when the port range could not be read.
    /// </param>
    /// <param name="probe">Returns null when a source address can be bound, else why not; prefixes are checked with it through <see cref="SourcePrefixProbe"/>.</param>
    public static IReadOnlyList<string> Validate(TuplePoolOptions options, Func<KernelSettings?> readKernel, Func<IPAddress, string?> probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        return Validate(options, readKernel, probe, network => SourcePrefixProbe.Check(network, probe, ProcFileSystem.Default));
    }

    /// <summary>The rules, with the kernel facts, the address probe and the prefix probe as seams.</summary>
    /// <param name="options">The options to check.</param>
    /// <param name="readKernel">See <see cref="Validate(TuplePoolOptions, Func{KernelSettings?}, Func{IPAddress, string?})"/>.</param>
    /// <param name="probe">Returns null when a source address can be bound, else why not.</param>
    /// <param name="probePrefix">Returns null when this machine serves a source prefix, else why not (<see cref="SourcePrefixProbe.Check(IPNetwork)"/>).</param>
    public static IReadOnlyList<string> Validate(TuplePoolOptions options, Func<KernelSettings?> readKernel, Func<IPAddress, string?> probe, Func<IPNetwork, string?> probePrefix)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(readKernel);
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(probePrefix);

        var failures = new List<string>();
        ValidateSourceAddresses(options, probe, failures);
        ValidateSourcePrefixes(options, probePrefix, failures);
        ValidatePorts(options, () => readKernel() is { IsLinux: true, PortRangeIsFallback: false } known ? known : null, failures);

        // MaxConnectionsPerDestination and MaxPendingAcquires may stay unlimited: what they bound
        // is held in storage that grows with use (OpenConnections' dictionary, WaiterQueue's linked
        // list of pooled waiters), never allocated up front by the limit, and the tuple budget
        // bounds the connections anyway.
        AtLeastOne(nameof(TuplePoolOptions.MaxConnectionsPerDestination), options.MaxConnectionsPerDestination, failures);
        AtLeastOne(nameof(TuplePoolOptions.MaxIdlePerDestination), options.MaxIdlePerDestination, failures);
        if (options.MaxIdlePerDestination > MaxIdlePerDestination)
        {
            failures.Add(Invariant($"MaxIdlePerDestination: {options.MaxIdlePerDestination} is more than {MaxIdlePerDestination:N0}, the kernel's largest fs.nr_open (the most files a process can have open), so that many idle connections can never exist; set the number you mean to keep."));
        }
        if (options.MaxConnectAttempts is < 1 or > MaxConnectAttempts)
        {
            failures.Add(Invariant($"MaxConnectAttempts: {options.MaxConnectAttempts} must lie between 1 and {MaxConnectAttempts}; each attempt of one new connection needs a source it has not tried yet, so more only hides a connect that cannot succeed."));
        }
        AtLeastOne(nameof(TuplePoolOptions.MaxPendingAcquires), options.MaxPendingAcquires, failures);
        if (options.MinIdlePerDestination < 0 || options.MinIdlePerDestination > options.MaxIdlePerDestination)
        {
            failures.Add(Invariant($"MinIdlePerDestination: {options.MinIdlePerDestination} must lie between 0 and MaxIdlePerDestination ({options.MaxIdlePerDestination})."));
        }

        if (options.HappyEyeballsDelay != Timeout.InfiniteTimeSpan
            && (options.HappyEyeballsDelay < MinHappyEyeballsDelay || options.HappyEyeballsDelay > MaxFiniteTimeSpan))
        {
            failures.Add(Invariant($"HappyEyeballsDelay: {Show(options.HappyEyeballsDelay)} must be at least {MinHappyEyeballsDelay.TotalMilliseconds:0} ms (RFC 8305 recommends 250 ms, at least 100 ms), or Infinite to try addresses one by one."));
        }

        Positive(nameof(TuplePoolOptions.TotalConnectTimeout), options.TotalConnectTimeout, allowInfinite: true, failures);
        ValidateKeepAlive(options.KeepAlive, failures);
        ValidateNat(options.Nat, failures);

        Positive(nameof(TuplePoolOptions.IdleTimeout), options.IdleTimeout, allowInfinite: true, failures);
        Positive(nameof(TuplePoolOptions.ConnectionLifetime), options.ConnectionLifetime, allowInfinite: true, failures);
        Positive(nameof(TuplePoolOptions.AcquireTimeout), options.AcquireTimeout, allowInfinite: true, failures);
        NotNegative(nameof(TuplePoolOptions.TimeWaitDuration), options.TimeWaitDuration, allowInfinite: false, failures);
        if (options.SourceQuarantine < MinSourceQuarantine || options.SourceQuarantine > MaxFiniteTimeSpan)
        {
            failures.Add(Invariant($"SourceQuarantine: {Show(options.SourceQuarantine)} must lie between {MinSourceQuarantine:c} and {MaxFiniteTimeSpan:c}; a shorter quarantine would try a source that cannot bind again on every connect."));
        }
        NotNegative(nameof(TuplePoolOptions.DnsRefreshInterval), options.DnsRefreshInterval, allowInfinite: true, failures);
        NotNegative(nameof(TuplePoolOptions.EmptyDestinationTimeout), options.EmptyDestinationTimeout, allowInfinite: true, failures);

        var connect = options.ConnectTimeout;
        if (connect < MinConnectTimeout || connect > MaxConnectTimeout)
        {
            failures.Add(Invariant($"ConnectTimeout: {Show(connect)} is out of range; it must lie between {MinConnectTimeout:c} and {MaxConnectTimeout:c} (without a bound a connect to a silent host hangs until the kernel gives up)."));
        }

        if (!Enum.IsDefined(options.CloseMode))
        {
            failures.Add(Invariant($"CloseMode: {(int)options.CloseMode} is not one of {string.Join(", ", Enum.GetNames<CloseMode>())}."));
        }

        if (!Enum.IsDefined(options.SourceSelection))
        {
            failures.Add(Invariant($"SourceSelection: {(int)options.SourceSelection} is not one of {string.Join(", ", Enum.GetNames<SourceSelectionMode>())}."));
        }

        if (!Enum.IsDefined(options.MetricDetail))
        {
            failures.Add(Invariant($"MetricDetail: {(int)options.MetricDetail} is not one of {string.Join(", ", Enum.GetNames<MetricDetail>())}."));
        }

        return failures;
    }

    private static void ValidateKeepAlive(TcpKeepAlive? keepAlive, List<string> failures)
    {
        if (keepAlive is null)
        {
            return;
        }

        WholeSeconds("KeepAlive.Time", keepAlive.Time, failures);
        WholeSeconds("KeepAlive.Interval", keepAlive.Interval, failures);
        if (keepAlive.RetryCount is < 1 or > 127)
        {
            failures.Add(Invariant($"KeepAlive.RetryCount: {keepAlive.RetryCount} must lie between 1 and 127 (TCP_KEEPCNT)."));
        }
    }

    private static void ValidateNat(NatOptions? nat, List<string> failures)
    {
        if (nat is null)
        {
            return;
        }

        if (nat.PortsPerDestination is < 1 or > NatDefaults.MaxPortsPerDestination)
        {
            failures.Add(Invariant($"Nat.PortsPerDestination: {nat.PortsPerDestination} must lie between 1 and {NatDefaults.MaxPortsPerDestination:N0}; set it to the ports the NAT gives one destination IP and port (the README's \"Behind a NAT\" table), e.g. 128 on Azure App Service."));
        }

        NotNegative("Nat.HoldAfterClose", nat.HoldAfterClose, allowInfinite: false, failures);
        NotNegative("Nat.HoldAfterReset", nat.HoldAfterReset, allowInfinite: false, failures);
        Positive("Nat.IdleTimeout", nat.IdleTimeout, allowInfinite: true, failures);
        if (nat.Destinations is null)
        {
            failures.Add("Nat.Destinations: is null; leave the list empty for every destination that is not a loopback address.");
        }
    }

    private static void WholeSeconds(string name, TimeSpan value, List<string> failures)
    {
        if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromSeconds(32767) || value.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            failures.Add(Invariant($"{name}: {Show(value)} must be whole seconds between 1 and 32767 (the kernel counts keepalive times in seconds)."));
        }
    }

    private static void ValidateSourceAddresses(TuplePoolOptions options, Func<IPAddress, string?> probe, List<string> failures)
    {
        var addresses = options.SourceAddresses;
        if (addresses is null)
        {
            failures.Add("SourceAddresses: is null; leave the list empty to let the kernel choose the source.");
            return;
        }

        // Judged as the pool keeps them (TuplePoolOptions.Clone): plain copies, an IPv4-mapped
        // address as its IPv4 address. So ::ffff:127.0.0.2 and 127.0.0.2 are one source, and a
        // caller's IPAddress subclass cannot bring its own idea of equality into the check.
        var seen = new Dictionary<IPAddress, int>(addresses.Count);
        for (var i = 0; i < addresses.Count; i++)
        {
            var given = addresses[i];
            if (given is null)
            {
                failures.Add(Invariant($"SourceAddresses[{i}]: is null."));
                continue;
            }

            var address = AddressCopies.AsKernelSeesIt(given);
            var shown = given.IsIPv4MappedToIPv6 ? Invariant($"{given} is the IPv4 address {address} to the kernel,") : Invariant($"{given} is");
            if (seen.TryGetValue(address, out var first))
            {
                failures.Add(Invariant($"SourceAddresses[{i}]: {shown} listed twice (also at [{first}]); each source gets its own port budget, so list it once."));
                continue;
            }

            seen.Add(address, i);
            if (NotUnicast(address) is { } why)
            {
                failures.Add(Invariant($"SourceAddresses[{i}]: {given} {why}; list the machine's own unicast addresses, or leave SourceAddresses empty to let the kernel choose."));
                continue;
            }

            if (probe(address) is { } problem)
            {
                failures.Add(Invariant($"SourceAddresses[{i}]: {given} {problem}."));
            }
        }
    }

    /// <summary>
    /// Each prefix: a real network of its family, large enough to be more than a list, disjoint
    /// from the other prefixes and from the listed addresses, and served by this machine
    /// (<see cref="SourcePrefixProbe"/>); with a NAT's
    /// destinations listed, a source for each of their families.
    /// </summary>
    private static void ValidateSourcePrefixes(TuplePoolOptions options, Func<IPNetwork, string?> probe, List<string> failures)
    {
        var prefixes = options.SourcePrefixes;
        if (prefixes is null)
        {
            failures.Add("SourcePrefixes: is null; leave the list empty for no prefix.");
            return;
        }

        var accepted = new List<(IPNetwork Network, int Index)>(prefixes.Count);
        for (var i = 0; i < prefixes.Count; i++)
        {
            var network = prefixes[i];
            if (network == default(IPNetwork))
            {
                failures.Add(Invariant($"SourcePrefixes[{i}]: is an empty network (default(IPNetwork)); write it like \"198.18.64.0/24\" or \"2001:db8:1::/64\"."));
                continue;
            }

            var baseAddress = network.BaseAddress;
            if (baseAddress.IsIPv4MappedToIPv6)
            {
                failures.Add(Invariant($"SourcePrefixes[{i}]: {network} is IPv4-mapped IPv6; write the IPv4 network ({baseAddress.MapToIPv4()}/{network.PrefixLength - 96}), which is what the kernel binds."));
                continue;
            }

            if (NotUnicast(baseAddress) is { } why)
            {
                failures.Add(Invariant($"SourcePrefixes[{i}]: {network} starts at {baseAddress}, which {why}; a prefix holds this machine's own unicast addresses."));
                continue;
            }

            var usable = PrefixAddresses.UsableCount(network);
            if (usable < PrefixAddresses.MinUsable)
            {
                failures.Add(Invariant($"SourcePrefixes[{i}]: {network} holds too few addresses to be a prefix ({usable} usable); a prefix needs at least 4 (IPv4 /30, IPv6 /126 or shorter): list single addresses in SourceAddresses."));
                continue;
            }

            var overlap = accepted.FindIndex(a => a.Network.Contains(baseAddress) || network.Contains(a.Network.BaseAddress));
            if (overlap >= 0)
            {
                failures.Add(Invariant($"SourcePrefixes[{i}]: {network} overlaps SourcePrefixes[{accepted[overlap].Index}] ({accepted[overlap].Network}); an address belongs to one prefix: list networks that do not overlap."));
                continue;
            }

            accepted.Add((network, i));
            if (options.SourceAddresses is { } addresses)
            {
                for (var j = 0; j < addresses.Count; j++)
                {
                    if (addresses[j] is { } listed && network.Contains(AddressCopies.AsKernelSeesIt(listed)))
                    {
                        failures.Add(Invariant($"SourcePrefixes[{i}]: {network} contains SourceAddresses[{j}] ({listed}); an address is a listed source or a prefix's, not both (it would be budgeted twice): remove it from one."));
                    }
                }
            }

            if (probe(network) is { } problem)
            {
                var route = baseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? "ip -6 route" : "ip route";
                failures.Add(Invariant($"SourcePrefixes[{i}]: {network} {problem}. Route the prefix to this machine with `{route} add local {network} dev lo` (AnyIP)."));
            }
        }

        if (accepted.Count > 0 && options.Nat?.Destinations is { } natDestinations)
        {
            var families = accepted.Select(a => a.Network.BaseAddress.AddressFamily)
                .Concat((options.SourceAddresses ?? []).Where(a => a is not null).Select(a => AddressCopies.AsKernelSeesIt(a).AddressFamily))
                .ToHashSet();
            for (var k = 0; k < natDestinations.Count; k++)
            {
                var destination = natDestinations[k];
                if (destination != default(IPNetwork) && !families.Contains(destination.BaseAddress.AddressFamily))
                {
                    var family = destination.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
                    failures.Add(Invariant($"SourcePrefixes: Nat.Destinations[{k}] ({destination}) is {family}, but no source prefix or address is {family}, so connections there would have no source; add an {family} prefix or address."));
                }
            }
        }
    }

    private static string? NotUnicast(IPAddress address)
    {
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return "is the wildcard address, not a source";
        }

        if (address.Equals(IPAddress.Broadcast))
        {
            return "is the broadcast address";
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 ? address.IsIPv6Multicast : IsIPv4Multicast(address))
        {
            return "is a multicast address";
        }

        return address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? null
            : $"is not an IPv4 or IPv6 address ({address.AddressFamily})";
    }

    private static bool IsIPv4Multicast(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        return address.TryWriteBytes(bytes, out _) && (bytes[0] & 0xF0) == 0xE0;
    }

    private static void ValidatePorts(TuplePoolOptions options, Func<KernelSettings?> readKernel, List<string> failures)
    {
        var reservedPerTuple = options.ReservedPortsPerTuple;
        if (reservedPerTuple < 0)
        {
            failures.Add(Invariant($"ReservedPortsPerTuple: {reservedPerTuple} is negative; it counts ports left for other programs, 0 or more."));
        }
        else if (reservedPerTuple > MaxReservedPortsPerTuple)
        {
            // Checked without the kernel too: where its port range is unknown the rule below cannot say so.
            failures.Add(Invariant($"ReservedPortsPerTuple: {reservedPerTuple} must lie between 0 and {MaxReservedPortsPerTuple}; a tuple has at most 65,535 ports, and the pool needs one of them."));
            return;
        }

        var range = options.LocalPortRange;
        if (range is { } r && !r.IsValid)
        {
            failures.Add(r.First is < 1 or > 65535 || r.Last is < 1 or > 65535
                ? Invariant($"LocalPortRange: {r.First}-{r.Last} is outside 1-65535.")
                : Invariant($"LocalPortRange: {r.First}-{r.Last} has First ({r.First}) greater than Last ({r.Last}); write the lower port first."));
            return;
        }

        // The kernel is only consulted when a rule depends on it.
        if (range is null && reservedPerTuple <= 0)
        {
            return;
        }

        var facts = readKernel();
        var system = facts?.PortRange;
        if (range is { } local && facts is not null)
        {
            var kernelVersion = facts.KernelVersion is { } v ? Invariant($"Linux {v}") : "this kernel";
            if (facts.SupportsLocalPortRange && !(system!.Value.Contains(local.First) && system.Value.Contains(local.Last)))
            {
                failures.Add(Invariant($"LocalPortRange: {local} is not inside the system range {system} (net.ipv4.ip_local_port_range); the kernel ignores a bound outside it, so the pool would count ports it cannot use. Pick a slice of {system} or widen the system range."));
                return;
            }

            if (!facts.SupportsLocalPortRange && local.Count > system!.Value.Count)
            {
                failures.Add(Invariant($"LocalPortRange: {local} ({local.Count} ports) is wider than the system range {system} ({system.Value.Count} ports), and {kernelVersion} ignores IP_LOCAL_PORT_RANGE (it needs Linux 6.3), so sockets only get the system range's ports. Use at most {system.Value.Count} ports or widen net.ipv4.ip_local_port_range."));
                return;
            }
        }

        // Ports left for the pool in each tuple: the range, minus the kernel's reserved ports in
        // it, minus the ones the options keep back.
        PortRange? effective = range ?? system;
        if (effective is not { } e || reservedPerTuple < 0)
        {
            return;
        }

        var kernelReserved = facts?.CountReservedIn(e) ?? 0;
        var source = range is null ? Invariant($"the system range {e}") : Invariant($"LocalPortRange {e}");
        if (e.Count - kernelReserved < 1)
        {
            failures.Add(Invariant($"LocalPortRange: every port of {source} is in net.ipv4.ip_local_reserved_ports, so no connection could be opened."));
        }
        else if (e.Count - kernelReserved - reservedPerTuple < 1)
        {
            failures.Add(Invariant($"ReservedPortsPerTuple: {reservedPerTuple} leaves no port for the pool: {source} holds {e.Count} ports, {kernelReserved} of them reserved by the kernel; keep back at most {e.Count - kernelReserved - 1}."));
        }
    }

    private static void AtLeastOne(string name, int value, List<string> failures)
    {
        if (value < 1)
        {
            failures.Add(Invariant($"{name}: {value} must be 1 or more."));
        }
    }

    private static void Positive(string name, TimeSpan value, bool allowInfinite, List<string> failures)
    {
        if (value == Timeout.InfiniteTimeSpan && allowInfinite)
        {
            return;
        }

        if (value <= TimeSpan.Zero)
        {
            failures.Add(Invariant($"{name}: {Show(value)} must be positive{(allowInfinite ? " or Infinite" : string.Empty)}."));
        }
        else if (value > MaxFiniteTimeSpan)
        {
            failures.Add(Invariant($"{name}: {Show(value)} is longer than the {MaxFiniteTimeSpan:c} timers allow{(allowInfinite ? "; use Infinite for no limit" : string.Empty)}."));
        }
    }

    private static void NotNegative(string name, TimeSpan value, bool allowInfinite, List<string> failures)
    {
        if (value == Timeout.InfiniteTimeSpan && allowInfinite)
        {
            return;
        }

        if (value < TimeSpan.Zero)
        {
            failures.Add(Invariant($"{name}: {Show(value)} must not be negative{(allowInfinite ? " (Infinite is allowed)" : string.Empty)}."));
        }
        else if (value > MaxFiniteTimeSpan)
        {
            failures.Add(Invariant($"{name}: {Show(value)} is longer than the {MaxFiniteTimeSpan:c} timers allow."));
        }
    }

    private static string Show(TimeSpan value)
        => value == Timeout.InfiniteTimeSpan ? "Infinite" : value.ToString("c", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
