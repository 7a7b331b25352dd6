using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

// PortRange lives in the root namespace; its tests sit here because ReadSystem is a Platform read.
public class PortRangeTests
{
    [Theory]
    [InlineData("40000-44999", 40000, 44999)]
    [InlineData(" 1 - 65535 ", 1, 65535)]
    [InlineData("8080", 8080, 8080)]
    [InlineData("32768\t60999", 32768, 60999)]
    [InlineData("33000-33000", 33000, 33000)]
    public void Parse_GoodText_Range(string text, int first, int last)
    {
        Assert.Equal(new PortRange(first, last), PortRange.Parse(text));
        Assert.True(PortRange.TryParse(text, out var range));
        Assert.Equal(new PortRange(first, last), range);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("abc")]
    [InlineData("0-10")]
    [InlineData("10-5")]
    [InlineData("1-65536")]
    [InlineData("-5")]
    [InlineData("5-")]
    [InlineData("1-2-3")]
    [InlineData("40000 - x")]
    [InlineData("+1-2")]
    [InlineData("1,000-2,000")]
    public void TryParse_BadText_FalseAndDefault(string? text)
    {
        Assert.False(PortRange.TryParse(text, out var range));
        Assert.Equal(default, range);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10-5")]
    [InlineData("x")]
    public void Parse_BadText_FormatExceptionNamingInput(string text)
    {
        var exception = Assert.Throws<FormatException>(() => PortRange.Parse(text));

        Assert.Contains($"'{text}'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Null_ArgumentNullException()
        => Assert.Throws<ArgumentNullException>(() => PortRange.Parse(null!));

    [Theory]
    [InlineData(32768, 60999, 28232)]
    [InlineData(1, 65535, 65535)]
    [InlineData(33000, 33009, 10)]
    [InlineData(8080, 8080, 1)]
    [InlineData(5, 4, 0)]
    [InlineData(0, 10, 0)]
    [InlineData(1, 65536, 0)]
    [InlineData(0, 0, 0)]
    public void Count_Range_PortsInsideOrZeroWhenInvalid(int first, int last, int expected)
        => Assert.Equal(expected, new PortRange(first, last).Count);

    [Fact]
    public void ToString_Range_ParsesBackToSameRange()
    {
        var range = new PortRange(40000, 44999);

        Assert.Equal("40000-44999", range.ToString());
        Assert.Equal(range, PortRange.Parse(range.ToString()));
    }

    [Theory]
    [InlineData("40000-44999", (int)(PortRange.Syntax.Dash), 40000, 44999)]
    [InlineData("50000-40000", (int)(PortRange.Syntax.Dash), 50000, 40000)]
    [InlineData("0-70000", (int)(PortRange.Syntax.Dash), 0, 70000)]
    [InlineData("8080", (int)(PortRange.Syntax.Dash | PortRange.Syntax.SinglePort), 8080, 8080)]
    [InlineData("32768\t60999\n", (int)(PortRange.Syntax.Whitespace), 32768, 60999)]
    [InlineData("  1024   65535 ", (int)(PortRange.Syntax.Whitespace), 1024, 65535)]
    [InlineData(" 3000 - 3001 ", (int)(PortRange.Syntax.Dash | PortRange.Syntax.Whitespace), 3000, 3001)]
    public void TryParse_Syntax_ReadsAsWrittenWithoutJudgingTheRange(string text, int syntax, int first, int last)
    {
        Assert.True(PortRange.TryParse(text, (PortRange.Syntax)syntax, out var range));
        Assert.Equal(new PortRange(first, last), range);
    }

    [Theory]
    [InlineData("8080", (int)(PortRange.Syntax.Dash))]
    [InlineData("32768", (int)(PortRange.Syntax.Whitespace))]
    [InlineData("32768 60999", (int)(PortRange.Syntax.Dash | PortRange.Syntax.SinglePort))]
    [InlineData("40000-44999", (int)(PortRange.Syntax.Whitespace))]
    [InlineData("-5", (int)(PortRange.Syntax.Dash | PortRange.Syntax.SinglePort))]
    [InlineData("", (int)(PortRange.Syntax.Dash | PortRange.Syntax.SinglePort))]
    [InlineData("99999999999-1", (int)(PortRange.Syntax.Dash))]
    public void TryParse_FormTheSyntaxDoesNotAllow_False(string text, int syntax)
        => Assert.False(PortRange.TryParse(text, (PortRange.Syntax)syntax, out _));

    [Fact]
    public void ReadSystem_ThisMachine_EqualsProcFile()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Compares with /proc/sys/net/ipv4/ip_local_port_range, which only Linux has.");
        var parts = File.ReadAllText(KernelSettings.PortRangePath).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);

        var range = PortRange.ReadSystem();

        Assert.Equal(new PortRange(int.Parse(parts[0]), int.Parse(parts[1])), range);
        Assert.True(range.Count > 0);
    }
}
