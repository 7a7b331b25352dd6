using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

public class KernelSettingsTests
{
    private static readonly Version LinuxOsVersion = new(6, 1, 2);

    private static KernelSettings CreateSut(FakeProcFileSystem fileSystem, bool isLinux = true)
        => KernelSettings.Read(fileSystem, isLinux, LinuxOsVersion);

    private static KernelSettings WithTwReuse(int mode)
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.TcpTwReusePath] = $"{mode}\n";
        return CreateSut(fileSystem);
    }

    private static KernelSettings WithReserved(string text)
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.ReservedPortsPath] = text;
        return CreateSut(fileSystem);
    }

    [Fact]
    public void Read_NormalValues_ParsesEverySettingWithoutFallbacks()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.PortRangePath] = "40000\t49999\n";
        fileSystem[KernelSettings.ReservedPortsPath] = "8080,40000-40009\n";
        fileSystem[KernelSettings.TcpTwReusePath] = "1\n";
        fileSystem[KernelSettings.TcpTwReuseDelayPath] = "250\n";

        var sut = CreateSut(fileSystem);

        Assert.Equal(new PortRange(40000, 49999), sut.PortRange);
        Assert.Equal([new PortRange(8080, 8080), new PortRange(40000, 40009)], sut.ReservedPorts);
        Assert.Equal(1, sut.TcpTwReuse);
        Assert.Equal(TimeSpan.FromMilliseconds(250), sut.TcpTwReuseDelay);
        Assert.Equal(new Version(6, 18, 44), sut.KernelVersion);
        Assert.True(sut.IsLinux);
        Assert.Empty(sut.Fallbacks);
    }

    [Fact]
    public void Read_PortRangeSeparatedBySpaces_Parses()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.PortRangePath] = "  1024   65535  ";

        Assert.Equal(new PortRange(1024, 65535), CreateSut(fileSystem).PortRange);
    }

    [Fact]
    public void Read_ReservedListWithRanges_KeepsEachEntry()
    {
        var sut = WithReserved("1000,2000-2004, 3000 - 3001,60000\n");

        Assert.Equal(
            [new PortRange(1000, 1000), new PortRange(2000, 2004), new PortRange(3000, 3001), new PortRange(60000, 60000)],
            sut.ReservedPorts);
        Assert.Empty(sut.Fallbacks);
    }

    [Fact]
    public void Read_EmptyReservedFile_NoReservedPortsAndNoFallback()
    {
        var sut = WithReserved("\n");

        Assert.Empty(sut.ReservedPorts);
        Assert.Equal(0, sut.CountReservedIn(sut.PortRange));
        Assert.Empty(sut.Fallbacks);
    }

    [Fact]
    public void CountReservedIn_OverlappingRanges_CountsEachPortOnce()
    {
        // 40000-40009 (10) overlaps 40005-40014 (+5) which contains 40010 and 40012; 40020 alone.
        var sut = WithReserved("40000-40009,40005-40014,40010,40012,40020,40020");

        Assert.Equal(16, sut.CountReservedIn(new PortRange(32768, 60999)));
    }

    [Fact]
    public void CountReservedIn_RangesPartlyOutside_CountsOnlyPortsInside()
    {
        var sut = WithReserved("8080,32760-32770,40000-40009,60990-61010");

        // 32768-32770 (3) + 40000-40009 (10) + 60990-60999 (10); 8080 and the rest lie outside.
        Assert.Equal(23, sut.CountReservedIn(new PortRange(32768, 60999)));
        Assert.Equal(2, sut.CountReservedIn(new PortRange(40008, 40100)));
        Assert.Equal(0, sut.CountReservedIn(new PortRange(33000, 33999)));
    }

    [Fact]
    public void CountReservedIn_InvalidRange_Zero()
    {
        var sut = WithReserved("8080");

        Assert.Equal(0, sut.CountReservedIn(default));
    }

    [Fact]
    public void Read_AllFilesMissing_DefaultsAndOneFallbackLinePerFile()
    {
        var sut = CreateSut(new FakeProcFileSystem());

        Assert.Equal(KernelSettings.DefaultPortRange, sut.PortRange);
        Assert.Equal(new PortRange(32768, 60999), sut.PortRange);
        Assert.Empty(sut.ReservedPorts);
        Assert.Equal(2, sut.TcpTwReuse);
        Assert.Equal(1, sut.TcpTimestamps);
        Assert.Equal(TimeSpan.FromSeconds(1), sut.TcpTwReuseDelay);
        Assert.Equal(LinuxOsVersion, sut.KernelVersion);
        Assert.Collection(
            sut.Fallbacks,
            line => Assert.Equal("/proc/sys/net/ipv4/ip_local_port_range: missing or not readable; using 32768-60999.", line),
            line => Assert.Equal("/proc/sys/net/ipv4/ip_local_reserved_ports: missing or not readable; using no reserved ports.", line),
            line => Assert.Equal("/proc/sys/net/ipv4/tcp_tw_reuse: missing or not readable; using 2 (loopback only).", line),
            line => Assert.Equal("/proc/sys/net/ipv4/tcp_timestamps: missing or not readable; using 1 (on).", line),
            line => Assert.Equal("/proc/sys/kernel/osrelease: missing or not readable; using 6.1.2 from Environment.OSVersion.", line));
    }

    [Theory]
    [InlineData(KernelSettings.PortRangePath, "hello", "'hello' is not two port numbers")]
    [InlineData(KernelSettings.PortRangePath, "60999\t32768", "'60999\t32768' is not two port numbers")]
    [InlineData(KernelSettings.PortRangePath, "0\t60999", "'0\t60999' is not two port numbers")]
    [InlineData(KernelSettings.PortRangePath, "32768\t70000", "'32768\t70000' is not two port numbers")]
    [InlineData(KernelSettings.PortRangePath, "32768", "'32768' is not two port numbers")]
    [InlineData(KernelSettings.PortRangePath, "", "'' is not two port numbers")]
    [InlineData(KernelSettings.ReservedPortsPath, "8080,x", "'8080,x' is not a comma list")]
    [InlineData(KernelSettings.ReservedPortsPath, "9010-9000", "'9010-9000' is not a comma list")]
    [InlineData(KernelSettings.ReservedPortsPath, "8080,,9000", "'8080,,9000' is not a comma list")]
    [InlineData(KernelSettings.ReservedPortsPath, "70000", "'70000' is not a comma list")]
    [InlineData(KernelSettings.TcpTwReusePath, "3", "'3' is not 0, 1 or 2")]
    [InlineData(KernelSettings.TcpTwReusePath, "yes", "'yes' is not 0, 1 or 2")]
    [InlineData(KernelSettings.TcpTimestampsPath, "3", "'3' is not 0, 1 or 2")]
    [InlineData(KernelSettings.TcpTimestampsPath, "on", "'on' is not 0, 1 or 2")]
    [InlineData(KernelSettings.TcpTwReuseDelayPath, "0", "'0' is not a positive number of milliseconds")]
    [InlineData(KernelSettings.TcpTwReuseDelayPath, "1.5", "'1.5' is not a positive number of milliseconds")]
    [InlineData(KernelSettings.OsReleasePath, "unknown", "'unknown' is not a release like")]
    public void Read_GarbageText_DefaultUsedAndFallbackLineNamesFileAndText(string path, string text, string expected)
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[path] = text;

        var sut = CreateSut(fileSystem);

        var line = Assert.Single(sut.Fallbacks);
        Assert.StartsWith(path + ": ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Contains("; using ", line, StringComparison.Ordinal);

        // The other files hold the defaults too, so every setting must now equal its default.
        Assert.Equal(KernelSettings.DefaultPortRange, sut.PortRange);
        Assert.Empty(sut.ReservedPorts);
        Assert.Equal(2, sut.TcpTwReuse);
        Assert.Equal(1, sut.TcpTimestamps);
        Assert.Equal(TimeSpan.FromSeconds(1), sut.TcpTwReuseDelay);
        Assert.Equal(path == KernelSettings.OsReleasePath ? LinuxOsVersion : new Version(6, 18, 44), sut.KernelVersion);
    }

    [Fact]
    public void Read_GarbageText_OtherSettingsStillRead()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.PortRangePath] = "\0\0garbage";
        fileSystem[KernelSettings.ReservedPortsPath] = "40000-40001";
        fileSystem[KernelSettings.TcpTwReusePath] = "0";

        var sut = CreateSut(fileSystem);

        Assert.Equal(KernelSettings.DefaultPortRange, sut.PortRange);
        Assert.Equal([new PortRange(40000, 40001)], sut.ReservedPorts);
        Assert.Equal(0, sut.TcpTwReuse);
        Assert.Single(sut.Fallbacks);
    }

    [Fact]
    public void Read_LongGarbage_FallbackLineShortened()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.PortRangePath] = new string('x', 5000);

        var line = Assert.Single(CreateSut(fileSystem).Fallbacks);

        Assert.True(line.Length < 200, line);
        Assert.Contains("...", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TwReuseDelayMissingBeforeLinux613_OneSecondWithoutFallbackLine()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.TcpTwReuseDelayPath] = null;
        fileSystem[KernelSettings.OsReleasePath] = "6.12.9-generic";

        var sut = CreateSut(fileSystem);

        Assert.Equal(TimeSpan.FromSeconds(1), sut.TcpTwReuseDelay);
        Assert.Empty(sut.Fallbacks);
    }

    [Fact]
    public void Read_TwReuseDelayMissingFromLinux613_OneSecondWithFallbackLine()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.TcpTwReuseDelayPath] = null;
        fileSystem[KernelSettings.OsReleasePath] = "6.13.0";

        var sut = CreateSut(fileSystem);

        Assert.Equal(TimeSpan.FromSeconds(1), sut.TcpTwReuseDelay);
        Assert.Equal("/proc/sys/net/ipv4/tcp_tw_reuse_delay: missing or not readable; using 1000 ms.", Assert.Single(sut.Fallbacks));
    }

    [Fact]
    public void Read_OsReleaseGarbageOnLinux_UsesOsVersion()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.OsReleasePath] = "garbage";

        var sut = KernelSettings.Read(fileSystem, isLinux: true, new Version(5, 15, 0));

        Assert.Equal(new Version(5, 15, 0), sut.KernelVersion);
        Assert.True(sut.SupportsLocalPortRange is false && sut.SupportsBindAddressNoPort);
        Assert.Contains("using 5.15.0 from Environment.OSVersion", Assert.Single(sut.Fallbacks), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NotLinux_VersionUnknownAndNoLinuxFeatures()
    {
        var sut = KernelSettings.Read(new FakeProcFileSystem(), isLinux: false, new Version(10, 0, 26100));

        Assert.False(sut.IsLinux);
        Assert.Null(sut.KernelVersion);
        Assert.False(sut.SupportsBindAddressNoPort);
        Assert.False(sut.SupportsLocalPortRange);
        Assert.False(sut.LocalPortRangeDisablesParitySearch);
        Assert.Equal(KernelSettings.DefaultPortRange, sut.PortRange);
        Assert.Contains(sut.Fallbacks, line => line.StartsWith("/proc/sys/kernel/osrelease: missing or not readable; using unknown", StringComparison.Ordinal));
        Assert.Contains(sut.Fallbacks, line => line.StartsWith("/proc/sys/net/ipv4/tcp_tw_reuse_delay: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_FileSystemThatReadsEverything_ReadsEachFileOnce()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();

        CreateSut(fileSystem);

        Assert.Equal(
            [KernelSettings.PortRangePath, KernelSettings.ReservedPortsPath, KernelSettings.TcpTwReusePath, KernelSettings.TcpTimestampsPath, KernelSettings.OsReleasePath, KernelSettings.TcpTwReuseDelayPath],
            fileSystem.Reads);
    }

    [Theory]
    [InlineData("6.18.44-fc-v657", 6, 18, 44)]
    [InlineData("5.15.0-1051-azure\n", 5, 15, 0)]
    [InlineData("4.2.0-rc1", 4, 2, 0)]
    [InlineData("6.3", 6, 3, -1)]
    [InlineData("6.8-rc7+", 6, 8, -1)]
    [InlineData("3.10.0-1160.el7.x86_64", 3, 10, 0)]
    [InlineData("6.1.2.3", 6, 1, 2)]
    public void TryParseKernelVersion_Release_LeadingNumbers(string text, int major, int minor, int patch)
    {
        Assert.True(KernelSettings.TryParseKernelVersion(text, out var version));

        Assert.Equal(patch < 0 ? new Version(major, minor) : new Version(major, minor, patch), version);
    }

    [Theory]
    [InlineData("")]
    [InlineData("6")]
    [InlineData("six.one")]
    [InlineData("v6.1")]
    [InlineData(".6.1")]
    [InlineData("6.x")]
    [InlineData("99999999999.1")]
    public void TryParseKernelVersion_NotARelease_False(string text)
    {
        Assert.False(KernelSettings.TryParseKernelVersion(text, out var version));
        Assert.Null(version);
    }

    [Theory]
    [InlineData("4.1.52", false, false, false)]
    [InlineData("4.2", true, false, false)]
    [InlineData("6.2.16", true, false, false)]
    [InlineData("6.3.0", true, true, false)]
    [InlineData("6.7.12", true, true, false)]
    [InlineData("6.8", true, true, true)]
    [InlineData("6.18.44-fc-v657", true, true, true)]
    public void Supports_KernelVersion_MatchesWhenEachOptionAppeared(string release, bool noPort, bool localPortRange, bool paritySearchOff)
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.OsReleasePath] = release;

        var sut = CreateSut(fileSystem);

        Assert.Equal(noPort, sut.SupportsBindAddressNoPort);
        Assert.Equal(localPortRange, sut.SupportsLocalPortRange);
        Assert.Equal(paritySearchOff, sut.LocalPortRangeDisablesParitySearch);
    }

    [Theory]
    // mode 0: never
    [InlineData(0, "127.0.0.1", "127.0.0.1", false)]
    [InlineData(0, "10.0.0.1", "10.0.0.2", false)]
    // mode 1: always
    [InlineData(1, "10.0.0.1", "10.0.0.2", true)]
    [InlineData(1, "0.0.0.0", "10.0.0.2", true)]
    [InlineData(1, "127.0.0.1", "127.0.0.1", true)]
    // mode 2: when either end is loopback
    [InlineData(2, "127.0.0.1", "127.0.0.1", true)]
    [InlineData(2, "127.0.0.2", "10.0.0.2", true)]
    [InlineData(2, "10.0.0.1", "127.0.0.5", true)]
    [InlineData(2, "10.0.0.1", "10.0.0.2", false)]
    [InlineData(2, "0.0.0.0", "127.0.0.1", true)]
    [InlineData(2, "0.0.0.0", "10.0.0.2", false)]
    [InlineData(2, "::", "::1", true)]
    [InlineData(2, "::", "2001:db8::1", false)]
    [InlineData(2, "::1", "2001:db8::1", true)]
    [InlineData(2, "2001:db8::2", "2001:db8::1", false)]
    [InlineData(2, "::ffff:127.0.0.1", "::ffff:10.0.0.2", true)]
    [InlineData(2, "::ffff:10.0.0.1", "::ffff:127.0.0.9", true)]
    [InlineData(2, "::ffff:10.0.0.1", "::ffff:10.0.0.2", false)]
    [InlineData(2, "::ffff:0.0.0.0", "::ffff:10.0.0.2", false)]
    public void IsTimeWaitReusable_ModeAndAddresses_MatchesKernelRule(int mode, string source, string destination, bool expected)
    {
        var sut = WithTwReuse(mode);

        Assert.Equal(expected, sut.IsTimeWaitReusable(IPAddress.Parse(source), IPAddress.Parse(destination)));
    }

    [Theory]
    [InlineData("0\n", 0)]
    [InlineData("1\n", 1)]
    [InlineData("2\n", 2)]
    public void Read_TcpTimestamps_ReadsTheMode(string text, int expected)
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.TcpTimestampsPath] = text;

        var sut = CreateSut(fileSystem);

        Assert.Equal(expected, sut.TcpTimestamps);
        Assert.Empty(sut.Fallbacks);
    }

    [Theory]
    [InlineData(1, "10.0.0.1", "10.0.0.2")]
    [InlineData(2, "127.0.0.1", "127.0.0.1")]
    [InlineData(2, "::1", "::1")]
    public void IsTimeWaitReusable_TimestampsOff_NeverWhateverTcpTwReuseSays(int mode, string source, string destination)
    {
        // tcp_twsk_unique takes a TIME_WAIT socket over only when its connection carried timestamps.
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.TcpTwReusePath] = $"{mode}\n";
        fileSystem[KernelSettings.TcpTimestampsPath] = "0\n";

        var sut = CreateSut(fileSystem);

        Assert.False(sut.IsTimeWaitReusable(IPAddress.Parse(source), IPAddress.Parse(destination)));
    }

    [Fact]
    public void ReadPortRange_GoodFile_RangeAndNoFallback()
    {
        var fileSystem = FakeProcFileSystem.WithDefaults();
        fileSystem[KernelSettings.PortRangePath] = "1024\t2047\n";

        var range = KernelSettings.ReadPortRange(fileSystem, out var fallback);

        Assert.Equal(new PortRange(1024, 2047), range);
        Assert.Null(fallback);
    }

    [Fact]
    public void ReadPortRange_MissingFile_DefaultAndFallback()
    {
        var range = KernelSettings.ReadPortRange(new FakeProcFileSystem(), out var fallback);

        Assert.Equal(new PortRange(32768, 60999), range);
        Assert.Equal("/proc/sys/net/ipv4/ip_local_port_range: missing or not readable; using 32768-60999.", fallback);
    }

    [Fact]
    public void Read_ThisMachine_MatchesProcFiles()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Reads this machine's /proc, which only Linux has.");

        var sut = KernelSettings.Read(ProcFileSystem.Default);

        var rangeParts = File.ReadAllText(KernelSettings.PortRangePath).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(new PortRange(int.Parse(rangeParts[0]), int.Parse(rangeParts[1])), sut.PortRange);
        Assert.Equal(int.Parse(File.ReadAllText(KernelSettings.TcpTwReusePath)), sut.TcpTwReuse);
        Assert.Equal(int.Parse(File.ReadAllText(KernelSettings.TcpTimestampsPath)), sut.TcpTimestamps);
        Assert.True(sut.IsLinux);
        Assert.NotNull(sut.KernelVersion);
        Assert.True(sut.KernelVersion.Major >= 3, $"kernel {sut.KernelVersion}");
        Assert.Same(KernelSettings.Current, KernelSettings.Current);
    }
}
