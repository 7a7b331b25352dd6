using System.Net;
using TuplePool.Options;
using TuplePool.Platform;

namespace TuplePool.Tests.Options;

public sealed class TuplePoolOptionsValidatorTests
{
    private static readonly KernelSettings Kernel618 = Kernel(new Version(6, 18));
    private static readonly KernelSettings Kernel515 = Kernel(new Version(5, 15));

    /// <summary>A Linux kernel with the default port range and no reserved ports unless given.</summary>
    internal static KernelSettings Kernel(Version version, IReadOnlyList<PortRange>? reserved = null, PortRange? range = null, bool isLinux = true, bool rangeIsFallback = false) => new()
    {
        PortRange = range ?? new PortRange(32768, 60999),
        PortRangeIsFallback = rangeIsFallback,
        ReservedPorts = reserved ?? [],
        TcpTwReuse = 2,
        TcpTwReuseDelay = TimeSpan.FromSeconds(1),
        KernelVersion = version,
        IsLinux = isLinux,
        Fallbacks = [],
    };

    private static IReadOnlyList<string> Validate(TuplePoolOptions options, KernelSettings? kernel = null, Func<IPAddress, string?>? probe = null)
        => TuplePoolOptionsValidator.Validate(options, () => kernel ?? Kernel618, probe ?? (static _ => null));

    [Fact]
    public void Validate_Defaults_NoFailuresAndKernelNotRead()
    {
        var failures = TuplePoolOptionsValidator.Validate(
            new TuplePoolOptions(),
            () => throw new InvalidOperationException("kernel facts are not needed for the defaults"),
            static _ => throw new InvalidOperationException("no source to probe"));

        Assert.Empty(failures);
    }

    [Fact]
    public void Validate_LoopbackSources_ProbedOnceEach()
    {
        var probed = new List<IPAddress>();
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")] };

        var failures = Validate(options, probe: a => { probed.Add(a); return null; });

        Assert.Empty(failures);
        Assert.Equal(options.SourceAddresses, probed);
    }

    [Fact]
    public void Validate_DuplicateSource_NamesIndexAndAddress()
    {
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.2")] };

        var failure = Assert.Single(Validate(options));

        Assert.StartsWith("SourceAddresses[2]: 127.0.0.2 is listed twice (also at [0])", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IPv4MappedSourceAndItsIPv4Address_AreOneSourceListedTwice()
    {
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("::ffff:127.0.0.2")] };

        var failure = Assert.Single(Validate(options));

        Assert.StartsWith("SourceAddresses[1]: ::ffff:127.0.0.2 is the IPv4 address 127.0.0.2 to the kernel, listed twice (also at [0])", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IPv4MappedSource_IsProbedAsTheIPv4AddressThePoolBinds()
    {
        var probed = new List<IPAddress>();
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("::ffff:127.0.0.3")] };

        Assert.Empty(Validate(options, probe: a => { probed.Add(a); return null; }));

        Assert.Equal([IPAddress.Parse("127.0.0.3")], probed);
    }

    [Fact]
    public void Validate_IPv4MappedWildcardSource_IsTheWildcard()
    {
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("::ffff:0.0.0.0")] };

        Assert.StartsWith($"SourceAddresses[0]: {options.SourceAddresses[0]} is the wildcard address", Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ReservedPortsPerTupleOfMoreThanAnyTupleHas_RefusedWithoutKernelFacts()
    {
        var options = new TuplePoolOptions { ReservedPortsPerTuple = 70_000 };

        var failures = TuplePoolOptionsValidator.Validate(options, static () => null, static _ => null);

        Assert.StartsWith("ReservedPortsPerTuple: 70000 must lie between 0 and 65534", Assert.Single(failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SourceThatCannotBind_ReportsProbeReason()
    {
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("192.0.2.1")] };

        var failure = Assert.Single(Validate(options, probe: static _ => "is not assigned to this machine"));

        Assert.Equal("SourceAddresses[0]: 192.0.2.1 is not assigned to this machine.", failure);
    }

    [Theory]
    [InlineData("0.0.0.0", "wildcard")]
    [InlineData("::", "wildcard")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("239.1.2.3", "multicast")]
    [InlineData("ff02::1", "multicast")]
    public void Validate_NonUnicastSource_RejectedWithoutProbing(string address, string why)
    {
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse(address)] };

        var failure = Assert.Single(Validate(options, probe: static _ => throw new InvalidOperationException("must not probe")));

        Assert.StartsWith($"SourceAddresses[0]: {address} ", failure, StringComparison.Ordinal);
        Assert.Contains(why, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NullSourceList_Named()
    {
        var options = new TuplePoolOptions { SourceAddresses = null! };

        Assert.StartsWith("SourceAddresses: is null", Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(50000, 40000, "LocalPortRange: 50000-40000 has First (50000) greater than Last (40000)")]
    [InlineData(0, 100, "LocalPortRange: 0-100 is outside 1-65535")]
    [InlineData(40000, 70000, "LocalPortRange: 40000-70000 is outside 1-65535")]
    public void Validate_InvalidRange_NamesRangeAndProblem(int first, int last, string expected)
    {
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(first, last) };

        Assert.StartsWith(expected, Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RangeInsideSystemRange_Accepted()
    {
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(45000, 45099) };

        Assert.Empty(Validate(options, Kernel618));
        Assert.Empty(Validate(options, Kernel515));
    }

    [Theory]
    [InlineData(30000, 45000)]
    [InlineData(45000, 62000)]
    public void Validate_RangeCrossingSystemRangeOnNewKernel_Rejected(int first, int last)
    {
        // Verified on Linux 6.18: IP_LOCAL_PORT_RANGE bounds outside ip_local_port_range are ignored.
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(first, last) };

        var failure = Assert.Single(Validate(options, Kernel618));

        Assert.StartsWith($"LocalPortRange: {first}-{last} is not inside the system range 32768-60999", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RangeWiderThanSystemOnOldKernel_NamesKernelAndLimit()
    {
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(1024, 65535) };

        var failure = Assert.Single(Validate(options, Kernel515));

        Assert.StartsWith("LocalPortRange: 1024-65535 (64512 ports) is wider than the system range 32768-60999 (28232 ports)", failure, StringComparison.Ordinal);
        Assert.Contains("Linux 5.15 ignores IP_LOCAL_PORT_RANGE", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NarrowRangeOutsideSystemOnOldKernel_Accepted()
    {
        // The old kernel uses the whole system range; a budget of 101 ports per tuple stays below it.
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(20000, 20100) };

        Assert.Empty(Validate(options, Kernel515));
    }

    [Fact]
    public void Validate_UnknownKernel_RangeRulesWithoutKernelStillApply()
    {
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(20000, 20099), ReservedPortsPerTuple = 100 };

        var failures = TuplePoolOptionsValidator.Validate(options, static () => null, static _ => null);

        Assert.StartsWith("ReservedPortsPerTuple: 100 leaves no port for the pool: LocalPortRange 20000-20099 holds 100 ports", Assert.Single(failures), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(49, true)]
    [InlineData(50, false)]
    public void Validate_ReservedPortsPerTuple_CountsKernelReservedPorts(int reservedPerTuple, bool valid)
    {
        var facts = Kernel(new Version(6, 18), reserved: [new PortRange(45000, 45049), new PortRange(50000, 50000)]);
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(45000, 45099), ReservedPortsPerTuple = reservedPerTuple };

        var failures = Validate(options, facts);

        if (valid)
        {
            Assert.Empty(failures);
        }
        else
        {
            Assert.Equal(
                "ReservedPortsPerTuple: 50 leaves no port for the pool: LocalPortRange 45000-45099 holds 100 ports, 50 of them reserved by the kernel; keep back at most 49.",
                Assert.Single(failures));
        }
    }

    [Fact]
    public void Validate_ReservedPortsPerTupleWithoutRange_UsesSystemRange()
    {
        var options = new TuplePoolOptions { ReservedPortsPerTuple = 28232 };

        Assert.StartsWith("ReservedPortsPerTuple: 28232 leaves no port for the pool: the system range 32768-60999 holds 28232 ports", Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RangeEntirelyReservedByKernel_Named()
    {
        var facts = Kernel(new Version(6, 18), reserved: [new PortRange(45000, 45999)]);
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(45000, 45099) };

        Assert.StartsWith("LocalPortRange: every port of LocalPortRange 45000-45099 is in net.ipv4.ip_local_reserved_ports", Assert.Single(Validate(options, facts)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeReservedPorts_Named()
    {
        var options = new TuplePoolOptions { ReservedPortsPerTuple = -1 };

        Assert.StartsWith("ReservedPortsPerTuple: -1 is negative", Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadValues => new()
    {
        { "IdleTimeout=0", "IdleTimeout: 00:00:00 must be positive or Infinite." },
        { "IdleTimeout=-5", "IdleTimeout: -00:00:05 must be positive or Infinite." },
        { "ConnectionLifetime=0", "ConnectionLifetime: 00:00:00 must be positive or Infinite." },
        { "AcquireTimeout=0", "AcquireTimeout: 00:00:00 must be positive or Infinite." },
        { "AcquireTimeout=60d", "AcquireTimeout: 60.00:00:00 is longer than the 49.17:02:47.2940000 timers allow; use Infinite for no limit." },
        { "ConnectTimeout=0", "ConnectTimeout: 00:00:00 is out of range" },
        { "ConnectTimeout=inf", "ConnectTimeout: Infinite is out of range" },
        { "TimeWaitDuration=-1", "TimeWaitDuration: -00:00:01 must not be negative." },
        { "TimeWaitDuration=inf", "TimeWaitDuration: Infinite must not be negative." },
        { "SourceQuarantine=-1", "SourceQuarantine: -00:00:01 must lie between 00:00:00.1000000 and " },
        { "SourceQuarantine=0", "SourceQuarantine: 00:00:00 must lie between 00:00:00.1000000 and 49.17:02:47.2940000; a shorter quarantine would try a source that cannot bind again on every connect." },
        { "SourceQuarantine=60d", "SourceQuarantine: 60.00:00:00 must lie between " },
        { "DnsRefreshInterval=-1", "DnsRefreshInterval: -00:00:01 must not be negative (Infinite is allowed)." },
        { "MaxIdlePerDestination=0", "MaxIdlePerDestination: 0 must be 1 or more." },
        { "MaxConnectionsPerDestination=-3", "MaxConnectionsPerDestination: -3 must be 1 or more." },
        { "MaxConnectAttempts=0", "MaxConnectAttempts: 0 must lie between 1 and 100" },
        { "MaxConnectAttempts=101", "MaxConnectAttempts: 101 must lie between 1 and 100" },
        { "CloseMode=7", "CloseMode: 7 is not one of Graceful, Abortive." },
        { "SourceSelection=9", "SourceSelection: 9 is not one of MostRemaining, RoundRobin." },
        { "MetricDetail=3", "MetricDetail: 3 is not one of Pool, Destination, Tuple." },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Validate_BadValue_MessageNamesFieldAndValue(string change, string expected)
    {
        var options = new TuplePoolOptions();
        Apply(change, options);

        Assert.StartsWith(expected, Assert.Single(Validate(options)), StringComparison.Ordinal);
    }

    public static TheoryData<Action<NatOptions>, string> BadNatValues => new()
    {
        { n => n.PortsPerDestination = 0, "Nat.PortsPerDestination: 0 must lie between 1 and 1,048,576" },
        { n => n.PortsPerDestination = (1 << 20) + 1, "Nat.PortsPerDestination: 1048577 must lie between 1 and 1,048,576" },
        { n => n.HoldAfterClose = TimeSpan.FromSeconds(-1), "Nat.HoldAfterClose: -00:00:01 must not be negative." },
        { n => n.HoldAfterReset = Timeout.InfiniteTimeSpan, "Nat.HoldAfterReset: Infinite must not be negative." },
        { n => n.IdleTimeout = TimeSpan.Zero, "Nat.IdleTimeout: 00:00:00 must be positive or Infinite." },
        { n => n.Destinations = null!, "Nat.Destinations: is null" },
    };

    [Theory]
    [MemberData(nameof(BadNatValues))]
    public void Validate_BadNatValue_MessageNamesFieldAndValue(Action<NatOptions> change, string expected)
    {
        var nat = new NatOptions { PortsPerDestination = 128 };
        change(nat);

        Assert.StartsWith(expected, Assert.Single(Validate(new TuplePoolOptions { Nat = nat })), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NatWithPorts_Accepted()
    {
        Assert.Empty(Validate(new TuplePoolOptions { Nat = new NatOptions { PortsPerDestination = 128, IdleTimeout = Timeout.InfiniteTimeSpan } }));
    }

    [Fact]
    public void Validate_InfiniteWhereItMeansNoLimit_Accepted()
    {
        var options = new TuplePoolOptions
        {
            IdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectionLifetime = Timeout.InfiniteTimeSpan,
            AcquireTimeout = Timeout.InfiniteTimeSpan,
            DnsRefreshInterval = Timeout.InfiniteTimeSpan,
            TimeWaitDuration = TimeSpan.Zero,
        };

        Assert.Empty(Validate(options));
    }

    [Fact]
    public void Validate_ShortestSourceQuarantine_Accepted()
    {
        var options = new TuplePoolOptions { SourceQuarantine = TuplePoolOptionsValidator.MinSourceQuarantine };

        Assert.Empty(Validate(options));
    }

    [Fact]
    public void Validate_SeveralProblems_AllReported()
    {
        var options = new TuplePoolOptions { MaxConnectAttempts = 0, IdleTimeout = TimeSpan.Zero, LocalPortRange = new PortRange(2, 1) };

        Assert.Equal(3, Validate(options).Count);
    }

    [Fact]
    public void ThrowIfInvalid_BadOptions_ArgumentExceptionListsEveryFailure()
    {
        var options = new TuplePoolOptions { MaxConnectAttempts = 0, MaxIdlePerDestination = 0 };

        var e = Assert.Throws<ArgumentException>(() => TuplePoolOptionsValidator.ThrowIfInvalid(options));

        Assert.Equal("options", e.ParamName);
        Assert.Contains("MaxConnectAttempts: 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxIdlePerDestination: 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfInvalid_Defaults_DoesNotThrow()
    {
        TuplePoolOptionsValidator.ThrowIfInvalid(new TuplePoolOptions());
    }

    private static void Apply(string change, TuplePoolOptions options)
    {
        var (name, value) = (change[..change.IndexOf('=', StringComparison.Ordinal)], change[(change.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        TimeSpan Time() => value switch
        {
            "inf" => Timeout.InfiniteTimeSpan,
            "60d" => TimeSpan.FromDays(60),
            _ => TimeSpan.FromSeconds(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)),
        };
        int Int() => int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

        switch (name)
        {
            case "IdleTimeout": options.IdleTimeout = Time(); break;
            case "ConnectionLifetime": options.ConnectionLifetime = Time(); break;
            case "AcquireTimeout": options.AcquireTimeout = Time(); break;
            case "ConnectTimeout": options.ConnectTimeout = Time(); break;
            case "TimeWaitDuration": options.TimeWaitDuration = Time(); break;
            case "SourceQuarantine": options.SourceQuarantine = Time(); break;
            case "DnsRefreshInterval": options.DnsRefreshInterval = Time(); break;
            case "MaxIdlePerDestination": options.MaxIdlePerDestination = Int(); break;
            case "MaxConnectionsPerDestination": options.MaxConnectionsPerDestination = Int(); break;
            case "MaxConnectAttempts": options.MaxConnectAttempts = Int(); break;
            case "CloseMode": options.CloseMode = (CloseMode)Int(); break;
            case "SourceSelection": options.SourceSelection = (SourceSelectionMode)Int(); break;
            case "MetricDetail": options.MetricDetail = (MetricDetail)Int(); break;
            default: throw new ArgumentException(change, nameof(change));
        }
    }

    [Fact]
    public void ThrowIfInvalid_UnassignedSourceWithoutProbing_DoesNotThrow()
    {
        // A pool built by hand may leave an unassigned source to its run-time quarantine.
        var options = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("192.0.2.1")] };

        TuplePoolOptionsValidator.ThrowIfInvalid(options, probeSources: false);
        Assert.Throws<ArgumentException>(() => TuplePoolOptionsValidator.ThrowIfInvalid(options));
    }

    [Fact]
    public void Validate_GivenKernelSettings_JudgesRangeAgainstThem()
    {
        var kernel = new KernelSettings
        {
            PortRange = new PortRange(40000, 40999),
            ReservedPorts = [],
            TcpTwReuse = 2,
            TcpTwReuseDelay = TimeSpan.FromSeconds(1),
            KernelVersion = new Version(6, 8),
            IsLinux = true,
            Fallbacks = [],
        };
        var options = new TuplePoolOptions { LocalPortRange = new PortRange(45000, 45099) };

        var failure = Assert.Single(TuplePoolOptionsValidator.Validate(options, kernel));

        Assert.StartsWith("LocalPortRange: 45000-45099 is not inside the system range 40000-40999", failure, StringComparison.Ordinal);
    }
}
