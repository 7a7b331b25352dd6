using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.Configuration;
using TuplePool.Options;

namespace TuplePool.Tests.Options;

public sealed class TuplePoolConfigurationBinderTests
{
    private static IConfiguration Json(string json)
        => new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    private static IConfiguration Values(params (string Key, string? Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static (TuplePoolOptions Options, IReadOnlyList<string> Errors) Bind(IConfiguration section, TuplePoolOptions? options = null, IReadOnlyCollection<string>? poolNames = null)
    {
        options ??= new TuplePoolOptions();
        var errors = TuplePoolConfigurationBinder.Bind(section, options, poolNames);
        return (options, errors);
    }

    [Fact]
    public void Bind_JsonAsPeopleWriteIt_EverySettingRead()
    {
        var section = Json("""
            {
              "TuplePool": {
                "SourceAddresses": [ "127.0.0.2", "127.0.0.3", "::1" ],
                "LocalPortRange": "40000-44999",
                "ReservedPortsPerTuple": 10,
                "MaxConnectionsPerDestination": 500,
                "MaxIdlePerDestination": 8,
                "IdleTimeout": "00:02:00",
                "ConnectionLifetime": "Infinite",
                "AcquireTimeout": "00:00:05",
                "ConnectTimeout": "00:00:02.500",
                "TimeWaitDuration": "00:01:00",
                "ValidateOnAcquire": false,
                "CloseMode": "Abortive",
                "SourceSelection": "roundrobin",
                "SourceQuarantine": "00:00:10",
                "DnsRefreshInterval": "00:05:00",
                "MaxConnectAttempts": 5
              }
            }
            """).GetSection("TuplePool");

        var (o, errors) = Bind(section);

        Assert.Empty(errors);
        Assert.Equal([IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.IPv6Loopback], o.SourceAddresses);
        Assert.Equal(new PortRange(40000, 44999), o.LocalPortRange);
        Assert.Equal(10, o.ReservedPortsPerTuple);
        Assert.Equal(500, o.MaxConnectionsPerDestination);
        Assert.Equal(8, o.MaxIdlePerDestination);
        Assert.Equal(TimeSpan.FromMinutes(2), o.IdleTimeout);
        Assert.Equal(Timeout.InfiniteTimeSpan, o.ConnectionLifetime);
        Assert.Equal(TimeSpan.FromSeconds(5), o.AcquireTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), o.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), o.TimeWaitDuration);
        Assert.False(o.ValidateOnAcquire);
        Assert.Equal(CloseMode.Abortive, o.CloseMode);
        Assert.Equal(SourceSelectionMode.RoundRobin, o.SourceSelection);
        Assert.Equal(TimeSpan.FromSeconds(10), o.SourceQuarantine);
        Assert.Equal(TimeSpan.FromMinutes(5), o.DnsRefreshInterval);
        Assert.Equal(5, o.MaxConnectAttempts);
    }

    [Fact]
    public void Bind_EverySettableOption_IsReadWithoutBeingListedAnywhere()
    {
        // The binder finds the options by reflection: for every public settable property a value
        // other than its default is written into configuration by the property's type alone, and
        // must come back on the options. A new option of a known type passes with no edit here.
        var defaults = new TuplePoolOptions();
        var values = new List<(string Key, string? Value)>();
        var expected = new Dictionary<string, object?>();
        foreach (var property in typeof(TuplePoolOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var current = property.GetValue(defaults);
            switch (current)
            {
                case int number:
                    values.Add((property.Name, (number + 7).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    expected[property.Name] = number + 7;
                    break;
                case TimeSpan span:
                    var other = span == TimeSpan.FromSeconds(7) ? TimeSpan.FromSeconds(9) : TimeSpan.FromSeconds(7);
                    values.Add((property.Name, other.ToString("c", System.Globalization.CultureInfo.InvariantCulture)));
                    expected[property.Name] = other;
                    break;
                case bool flag:
                    values.Add((property.Name, (!flag).ToString()));
                    expected[property.Name] = !flag;
                    break;
                case Enum value:
                    var different = Enum.GetNames(value.GetType()).First(n => n != value.ToString());
                    values.Add((property.Name, different.ToLowerInvariant())); // names compare without case
                    expected[property.Name] = Enum.Parse(value.GetType(), different);
                    break;
                default:
                    if (property.PropertyType == typeof(IList<IPAddress>))
                    {
                        values.Add(($"{property.Name}:0", "127.0.0.2"));
                        expected[property.Name] = new[] { IPAddress.Parse("127.0.0.2") };
                    }
                    else if (property.PropertyType == typeof(IList<IPNetwork>))
                    {
                        values.Add(($"{property.Name}:0", "198.18.64.0/24"));
                        expected[property.Name] = new[] { IPNetwork.Parse("198.18.64.0/24") };
                    }
                    else if (property.PropertyType == typeof(PortRange?))
                    {
                        values.Add((property.Name, "41000-41999"));
                        expected[property.Name] = new PortRange(41000, 41999);
                    }
                    else if (property.PropertyType == typeof(TcpKeepAlive))
                    {
                        values.Add(($"{property.Name}:Time", "00:00:31"));
                        expected[property.Name] = TimeSpan.FromSeconds(31);
                    }
                    else if (property.PropertyType == typeof(NatOptions))
                    {
                        values.Add(($"{property.Name}:PortsPerDestination", "32"));
                        expected[property.Name] = 32;
                    }
                    else
                    {
                        Assert.True(typeof(Delegate).IsAssignableFrom(property.PropertyType), $"{property.Name}: no value written for type {property.PropertyType.Name}");
                    }

                    break;
            }
        }

        var (bound, errors) = Bind(Values([.. values]));

        Assert.Empty(errors);
        Assert.True(expected.Count >= 20, $"only {expected.Count} options found");
        foreach (var (name, value) in expected)
        {
            var actual = typeof(TuplePoolOptions).GetProperty(name)!.GetValue(bound);
            switch (actual)
            {
                case IList<IPAddress> addresses:
                    Assert.Equal((IPAddress[])value!, addresses);
                    break;
                case IList<IPNetwork> networks:
                    Assert.Equal((IPNetwork[])value!, networks);
                    break;
                case TcpKeepAlive keepAlive:
                    Assert.Equal(value, keepAlive.Time);
                    break;
                case NatOptions nat:
                    Assert.Equal(value, nat.PortsPerDestination);
                    break;
                default:
                    Assert.True(Equals(value, actual), $"{name}: expected {value}, bound {actual}");
                    break;
            }
        }
    }

    [Fact]
    public void Bind_ConnectPathSettings_AreRead()
    {
        var (o, errors) = Bind(Values(
            ("HappyEyeballsDelay", "Infinite"),
            ("TotalConnectTimeout", "00:00:07"),
            ("MinIdlePerDestination", "4"),
            ("MaxPendingAcquires", "100"),
            ("KeepAlive:Time", "00:00:30"),
            ("KeepAlive:Interval", "00:00:05"),
            ("KeepAlive:RetryCount", "4")));

        Assert.Empty(errors);
        Assert.Equal(Timeout.InfiniteTimeSpan, o.HappyEyeballsDelay);
        Assert.Equal(TimeSpan.FromSeconds(7), o.TotalConnectTimeout);
        Assert.Equal(4, o.MinIdlePerDestination);
        Assert.Equal(100, o.MaxPendingAcquires);
        Assert.NotNull(o.KeepAlive);
        Assert.Equal(TimeSpan.FromSeconds(30), o.KeepAlive.Time);
        Assert.Equal(TimeSpan.FromSeconds(5), o.KeepAlive.Interval);
        Assert.Equal(4, o.KeepAlive.RetryCount);
    }

    [Fact]
    public void Bind_NatSection_IsRead()
    {
        var (o, errors) = Bind(Values(
            ("Nat:PortsPerDestination", "128"),
            ("Nat:HoldAfterClose", "00:04:00"),
            ("Nat:HoldAfterReset", "00:00:15"),
            ("Nat:IdleTimeout", "00:04:00"),
            ("Nat:Destinations:0", "198.18.0.0/15"),
            ("Nat:Destinations:1", "2001:db8::/32")));

        Assert.Empty(errors);
        Assert.NotNull(o.Nat);
        Assert.Equal(128, o.Nat.PortsPerDestination);
        Assert.Equal(TimeSpan.FromMinutes(4), o.Nat.HoldAfterClose);
        Assert.Equal(TimeSpan.FromSeconds(15), o.Nat.HoldAfterReset);
        Assert.Equal(TimeSpan.FromMinutes(4), o.Nat.IdleTimeout);
        Assert.Equal([IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("2001:db8::/32")], o.Nat.Destinations);
    }

    [Theory]
    [InlineData("198.18.0.1/15")]   // host bits set: a typo more likely than a network
    [InlineData("198.18.0.0/33")]
    [InlineData("example.com/8")]
    [InlineData("10/8")]
    public void Bind_NatDestinationNotANetwork_NamesTheKey(string text)
    {
        var (_, errors) = Bind(Values(("TuplePool:Nat:PortsPerDestination", "8"), ("TuplePool:Nat:Destinations:0", text)).GetSection("TuplePool"));

        var error = Assert.Single(errors);
        Assert.Contains("TuplePool:Nat:Destinations:0", error, StringComparison.Ordinal);
        Assert.Contains(text, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Bind_KeepAliveAsBoolean_TurnsDefaultsOnOrOff(string text, bool on)
    {
        var (o, errors) = Bind(Values(("KeepAlive", text)), new TuplePoolOptions { KeepAlive = on ? null : new TcpKeepAlive() });

        Assert.Empty(errors);
        Assert.Equal(on, o.KeepAlive is not null);
    }

    [Fact]
    public void Bind_EmptySection_LeavesEverySettingAsItWas()
    {
        var before = new TuplePoolOptions { MaxConnectAttempts = 7, LocalPortRange = new PortRange(45000, 45099), SourceAddresses = [IPAddress.Loopback] };

        var (o, errors) = Bind(Values(), before);

        Assert.Empty(errors);
        Assert.Equal(7, o.MaxConnectAttempts);
        Assert.Equal(new PortRange(45000, 45099), o.LocalPortRange);
        Assert.Equal([IPAddress.Loopback], o.SourceAddresses);
        Assert.Equal(TuplePoolDefaults.IdleTimeout, o.IdleTimeout);
    }

    [Fact]
    public void Bind_SourceAddressesAsOneString_SplitOnCommas()
    {
        // Environment variables carry one string: TuplePool__SourceAddresses="127.0.0.2, 127.0.0.3".
        var (o, errors) = Bind(Values(("SourceAddresses", "127.0.0.2, 127.0.0.3")));

        Assert.Empty(errors);
        Assert.Equal([IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")], o.SourceAddresses);
    }

    [Fact]
    public void Bind_SourceAddresses_ReplaceEarlierListInsteadOfAppending()
    {
        var before = new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("127.0.0.9")] };

        var (o, _) = Bind(Values(("SourceAddresses:0", "127.0.0.2")), before);

        Assert.Equal([IPAddress.Parse("127.0.0.2")], o.SourceAddresses);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("10")]
    [InlineData("127.1")]
    [InlineData("127.0.0.256")]
    public void Bind_UnparsableAddress_ErrorNamesKeyAndValueAndKeepsTheRest(string text)
    {
        var (o, errors) = Bind(Json($$"""{ "TuplePool": { "SourceAddresses": [ "127.0.0.2", "{{text}}" ] } }""").GetSection("TuplePool"));

        Assert.Equal(
            $"SourceAddresses: '{text}' is not an IP address; write each source like \"127.0.0.2\" or \"fd00::2\" (configuration key 'TuplePool:SourceAddresses:1').",
            Assert.Single(errors));
        Assert.Equal([IPAddress.Parse("127.0.0.2")], o.SourceAddresses);
    }

    [Theory]
    [InlineData("45000-45099", 45000, 45099)]
    [InlineData(" 45000 - 45099 ", 45000, 45099)]
    [InlineData("45000", 45000, 45000)]
    [InlineData("50000-40000", 50000, 40000)]
    [InlineData("0-100", 0, 100)]
    public void Bind_LocalPortRangeText_ReadAsWrittenForTheValidatorToJudge(string text, int first, int last)
    {
        var (o, errors) = Bind(Values(("LocalPortRange", text)));

        Assert.Empty(errors);
        Assert.Equal(new PortRange(first, last), o.LocalPortRange);
    }

    [Fact]
    public void Bind_LocalPortRangeObject_Read()
    {
        var (o, errors) = Bind(Json("""{ "LocalPortRange": { "First": 45000, "Last": 45099 } }"""));

        Assert.Empty(errors);
        Assert.Equal(new PortRange(45000, 45099), o.LocalPortRange);
    }

    [Fact]
    public void Bind_LocalPortRangeEmpty_MeansSystemRange()
    {
        var (o, errors) = Bind(Values(("LocalPortRange", "")), new TuplePoolOptions { LocalPortRange = new PortRange(45000, 45099) });

        Assert.Empty(errors);
        Assert.Null(o.LocalPortRange);
    }

    public static TheoryData<string, string, string> BadText => new()
    {
        { "LocalPortRange", "forty-thousand", "LocalPortRange: 'forty-thousand' is not a port range" },
        { "IdleTimeout", "soon", "IdleTimeout: 'soon' is not a time span" },
        { "AcquireTimeout", "30", "AcquireTimeout: '30' is not a time span; write it as \"hh:mm:ss\" (\"00:00:30\" is 30 seconds; a bare number would be read as days)" },
        { "ConnectTimeout", "00:00:xx", "ConnectTimeout: '00:00:xx' is not a time span" },
        { "MaxIdlePerDestination", "lots", "MaxIdlePerDestination: 'lots' is not a whole number" },
        { "ValidateOnAcquire", "yes", "ValidateOnAcquire: 'yes' is not true or false" },
        { "CloseMode", "Sometimes", "CloseMode: 'Sometimes' is not one of Graceful, Abortive" },
        { "CloseMode", "5", "CloseMode: '5' is not one of Graceful, Abortive" },
        { "SourceSelection", "Random", "SourceSelection: 'Random' is not one of MostRemaining, RoundRobin" },
        { "MetricDetail", "Everything", "MetricDetail: 'Everything' is not one of Pool, Destination, Tuple" },
    };

    [Theory]
    [MemberData(nameof(BadText))]
    public void Bind_UnreadableValue_ErrorNamesFieldValueAndKey(string key, string value, string expected)
    {
        var defaults = new TuplePoolOptions();

        var (o, errors) = Bind(Values(($"Pools:{key}", value)).GetSection("Pools"));

        var error = Assert.Single(errors);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        Assert.EndsWith($"(configuration key 'Pools:{key}').", error, StringComparison.Ordinal);
        Assert.Equal(defaults.IdleTimeout, o.IdleTimeout);
        Assert.Equal(defaults.CloseMode, o.CloseMode);
    }

    [Fact]
    public void Bind_SameSectionOntoAnyInstance_SameErrors()
    {
        // Start-up validation relies on this: it binds the section again onto a scratch instance
        // to report what the first bind could not read.
        var section = Values(("MaxConnectAttempts", "many"), ("SourceAddresses:0", "nope"), ("KeepAlive:Time", "soon"));

        var (_, onDefaults) = Bind(section);
        var (_, onConfigured) = Bind(section, new TuplePoolOptions { MaxConnectAttempts = 9, KeepAlive = new TcpKeepAlive(), SourceAddresses = [IPAddress.Loopback] });

        Assert.Equal(3, onDefaults.Count);
        Assert.Equal(onDefaults, onConfigured);
    }

    [Theory]
    [InlineData("AcquireTimout", "00:00:05", "TuplePool:AcquireTimout is not a TuplePool setting; did you mean AcquireTimeout?")]
    [InlineData("SourceAdresses:0", "127.0.0.2", "TuplePool:SourceAdresses is not a TuplePool setting; did you mean SourceAddresses?")]
    [InlineData("maxidleperdestinaton", "4", "TuplePool:maxidleperdestinaton is not a TuplePool setting; did you mean MaxIdlePerDestination?")]
    [InlineData("KeepAlive:Tme", "00:00:30", "TuplePool:KeepAlive:Tme is not a KeepAlive setting; did you mean Time?")]
    [InlineData("LocalPortRange:Frist", "45000", "TuplePool:LocalPortRange:Frist is not a LocalPortRange setting; did you mean First?")]
    [InlineData("Nat:PortsPerDestinaton", "8", "TuplePool:Nat:PortsPerDestinaton is not a Nat setting; did you mean PortsPerDestination?")]
    public void Bind_MisspeltKey_ErrorNamesKeyAndNearestSetting(string key, string value, string expected)
    {
        var (_, errors) = Bind(Values(($"TuplePool:{key}", value)).GetSection("TuplePool"));

        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Bind_KeyFarFromEverySetting_ListsTheSettings()
    {
        var (_, errors) = Bind(Values(("TuplePool:Colour", "blue")).GetSection("TuplePool"));

        var error = Assert.Single(errors);
        Assert.StartsWith("TuplePool:Colour is not a TuplePool setting; the settings are SourceAddresses, SourcePrefixes, LocalPortRange, ", error, StringComparison.Ordinal);
        Assert.Contains("AcquireTimeout", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_KeyInAnotherCase_IsTheSetting()
    {
        // Configuration keys compare without case, as Microsoft.Extensions.Configuration does.
        var (o, errors) = Bind(Values(("TuplePool:acquiretimeout", "00:00:05")).GetSection("TuplePool"));

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(5), o.AcquireTimeout);
    }

    [Fact]
    public void Bind_ChildSectionOfSettingsOnly_TakenForANamedPoolAndLeftAlone()
    {
        var (o, errors) = Bind(Json("""{ "TuplePool": { "MaxConnectAttempts": 4, "replicas": { "MaxConnectAttempts": 2, "AcquireTimeout": "00:00:01" } } }""").GetSection("TuplePool"));

        Assert.Empty(errors);
        Assert.Equal(4, o.MaxConnectAttempts);
        Assert.Equal(TuplePoolDefaults.AcquireTimeout, o.AcquireTimeout);
    }

    [Fact]
    public void Bind_ChildSectionNamedAfterARegisteredPool_LeftToThatPool()
    {
        // A typo inside the named pool's own section is that pool's to report, not the default's.
        var section = Json("""{ "TuplePool": { "replicas": { "AcquireTimout": "00:00:01" } } }""").GetSection("TuplePool");

        var (_, registered) = Bind(section, poolNames: ["Replicas"]);
        var (_, unregistered) = Bind(section);

        Assert.Empty(registered);
        Assert.StartsWith("TuplePool:replicas is not a TuplePool setting; the settings are ", Assert.Single(unregistered), StringComparison.Ordinal);
    }
}
