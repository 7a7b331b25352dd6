using System.Net;
using TuplePool.Options;

namespace TuplePool.Tests.Options;

public sealed class AddressParserTests
{
    [Theory]
    [InlineData("127.0.0.2", "127.0.0.2")]
    [InlineData(" 10.1.2.3 ", "10.1.2.3")]
    [InlineData("::1", "::1")]
    [InlineData("[::1]", "::1")]
    [InlineData("fd00::2", "fd00::2")]
    [InlineData("[::ffff:127.0.0.1]", "::ffff:127.0.0.1")]
    public void TryParse_Literal_Address(string text, string expected)
    {
        Assert.True(AddressParser.TryParse(text, out var address));
        Assert.Equal(IPAddress.Parse(expected), address);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]           // IPAddress.TryParse: 0.0.0.10
    [InlineData("127.1")]        // IPAddress.TryParse: 127.0.0.1
    [InlineData("1.2.3")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.4.")]
    [InlineData("0x7f.0.0.1")]   // IPAddress.TryParse reads hex octets
    [InlineData("127.0.0.256")]
    [InlineData("backend")]
    [InlineData("12345")]        // an all-digit host name
    [InlineData("[]")]
    [InlineData("[backend]")]
    public void TryParse_NotALiteral_False(string text)
    {
        Assert.False(AddressParser.TryParse(text, out var address));
        Assert.Null(address);
    }
}
