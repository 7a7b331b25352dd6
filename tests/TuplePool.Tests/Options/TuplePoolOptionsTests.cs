using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Xml.Linq;

namespace TuplePool.Tests.Options;

public sealed class TuplePoolOptionsTests
{
    /// <summary>Options with every public setting away from its default.</summary>
    private static TuplePoolOptions NonDefault() => new()
    {
        SourceAddresses = [IPAddress.Parse("127.0.0.2")],
        SourcePrefixes = [IPNetwork.Parse("127.64.0.0/16")],
        LocalPortRange = new PortRange(45000, 45099),
        ReservedPortsPerTuple = 1,
        MaxConnectionsPerDestination = 2,
        MaxIdlePerDestination = 3,
        IdleTimeout = TimeSpan.FromSeconds(4),
        ConnectionLifetime = TimeSpan.FromSeconds(5),
        AcquireTimeout = TimeSpan.FromSeconds(6),
        ConnectTimeout = TimeSpan.FromSeconds(7),
        TimeWaitDuration = TimeSpan.FromSeconds(8),
        ValidateOnAcquire = false,
        CloseMode = CloseMode.Abortive,
        SourceSelection = SourceSelectionMode.RoundRobin,
        SourceQuarantine = TimeSpan.FromSeconds(9),
        DnsRefreshInterval = TimeSpan.FromSeconds(10),
        EmptyDestinationTimeout = TimeSpan.FromSeconds(42),
        MaxConnectAttempts = 11,
        ConfigureConnectPipeline = static (_, _) => { },
        HappyEyeballsDelay = TimeSpan.FromMilliseconds(12),
        TotalConnectTimeout = TimeSpan.FromSeconds(13),
        KeepAlive = new TcpKeepAlive { Time = TimeSpan.FromSeconds(14), Interval = TimeSpan.FromSeconds(15), RetryCount = 16 },
        MinIdlePerDestination = 1,
        MaxPendingAcquires = 17,
        Nat = new NatOptions
        {
            PortsPerDestination = 18,
            HoldAfterClose = TimeSpan.FromSeconds(19),
            HoldAfterReset = TimeSpan.FromSeconds(20),
            IdleTimeout = TimeSpan.FromSeconds(21),
            Destinations = [IPNetwork.Parse("198.18.0.0/15")],
        },
        MetricDetail = MetricDetail.Tuple,
    };

    private static IEnumerable<PropertyInfo> Settings(Type type)
        => type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    [Fact]
    public void NonDefault_SetsEveryPublicSetting()
    {
        // Guards the Clone test below: a new setting must be given a non-default value there.
        var defaults = new TuplePoolOptions();
        var changed = NonDefault();

        Assert.All(Settings(typeof(TuplePoolOptions)), p => Assert.False(Equals(p.GetValue(defaults), p.GetValue(changed)), $"{p.Name} is not set by NonDefault()"));
    }

    [Fact]
    public void Clone_CopiesEverySetting()
    {
        var original = NonDefault();

        var copy = original.Clone();

        foreach (var property in Settings(typeof(TuplePoolOptions)))
        {
            var value = property.GetValue(copy);
            if (property.Name == nameof(TuplePoolOptions.SourceAddresses))
            {
                Assert.Equal(original.SourceAddresses, (IList<IPAddress>)value!);
            }
            else if (property.Name == nameof(TuplePoolOptions.SourcePrefixes))
            {
                Assert.Equal(original.SourcePrefixes, (IList<IPNetwork>)value!);
                Assert.NotSame(original.SourcePrefixes, value);
            }
            else if (property.Name == nameof(TuplePoolOptions.KeepAlive))
            {
                Assert.Equivalent(original.KeepAlive, value, strict: true);
            }
            else if (property.Name == nameof(TuplePoolOptions.Nat))
            {
                Assert.Equivalent(original.Nat, value, strict: true);
                Assert.NotSame(original.Nat, value);
            }
            else
            {
                Assert.Equal(property.GetValue(original), value);
            }
        }
    }

    [Fact]
    public void Clone_LaterChangesToTheOriginal_DoNotReachTheCopy()
    {
        var original = NonDefault();
        var copy = original.Clone();

        original.SourceAddresses.Add(IPAddress.Parse("127.0.0.3"));
        original.SourcePrefixes.Add(IPNetwork.Parse("127.65.0.0/16"));
        original.KeepAlive!.RetryCount = 99;
        original.MaxIdlePerDestination = 99;
        original.Nat!.PortsPerDestination = 99;
        original.Nat.Destinations.Add(IPNetwork.Parse("2001:db8::/32"));

        Assert.Equal([IPAddress.Parse("127.0.0.2")], copy.SourceAddresses);
        Assert.NotSame(original.SourceAddresses, copy.SourceAddresses);
        Assert.Equal([IPNetwork.Parse("127.64.0.0/16")], copy.SourcePrefixes);
        Assert.Equal(16, copy.KeepAlive!.RetryCount);
        Assert.Equal(3, copy.MaxIdlePerDestination);
        Assert.Equal(18, copy.Nat!.PortsPerDestination);
        Assert.Equal([IPNetwork.Parse("198.18.0.0/15")], copy.Nat.Destinations);
    }

    [Fact]
    public void Clone_IPv4MappedSource_BecomesTheIPv4AddressTheKernelBinds()
    {
        // An IPv6 socket bound to ::ffff:127.0.0.3 can reach IPv4 destinations only; as an IPv6
        // source it failed every connect to an IPv6 destination with EINVAL.
        var original = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("::ffff:127.0.0.3"), IPAddress.IPv6Loopback] };

        var copy = original.Clone();

        Assert.Equal([IPAddress.Parse("127.0.0.3"), IPAddress.IPv6Loopback], copy.SourceAddresses);
        Assert.Equal(AddressFamily.InterNetwork, copy.SourceAddresses[0].AddressFamily);
    }

    [Fact]
    public void Clone_SourceAddresses_AreCopiesTheCallerCannotChange()
    {
        var address = IPAddress.Parse("fe80::1");
        address.ScopeId = 2;
        var copy = new TuplePoolOptions { SourceAddresses = [address, null!] }.Clone();

        address.ScopeId = 7;

        Assert.Equal(2, copy.SourceAddresses[0].ScopeId);
        Assert.Null(copy.SourceAddresses[1]); // left for validation to name
    }

    [Fact]
    public void Clone_NullSourceList_StaysNullForValidationToName()
    {
        var original = new TuplePoolOptions { SourceAddresses = null!, KeepAlive = null };

        var copy = original.Clone();

        Assert.Null(copy.SourceAddresses);
        Assert.Null(copy.KeepAlive);
    }

    [Fact]
    public void Defaults_AreNotPublicApi()
    {
        // A public const is compiled into callers: a later change of a default would never reach them.
        Assert.False(typeof(TuplePoolDefaults).IsPublic);
    }

    [Theory]
    [InlineData(typeof(TuplePoolOptions))]
    [InlineData(typeof(TcpKeepAlive))]
    [InlineData(typeof(NatOptions))]
    public void EverySetting_DocumentsItsDefaultInAValueElement(Type type)
    {
        var docs = XDocument.Load(Path.ChangeExtension(type.Assembly.Location, ".xml"));

        foreach (var property in Settings(type))
        {
            var member = docs.Descendants("member").SingleOrDefault(m => (string?)m.Attribute("name") == $"P:{type.FullName}.{property.Name}");
            Assert.True(member is not null, $"{type.Name}.{property.Name} has no documentation");
            var value = member.Element("value")?.Value.Trim() ?? string.Empty;
            Assert.True(value.StartsWith("Default: ", StringComparison.Ordinal), $"{type.Name}.{property.Name}: <value> must start with \"Default: \", is \"{value}\"");
        }
    }
}
