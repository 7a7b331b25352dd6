using System.Net.Sockets;
using TuplePool.Telemetry;

namespace TuplePool.Tests.Telemetry;

public sealed class ErrorTypesTests
{
    [Theory]
    [InlineData(SocketError.ConnectionRefused, "connection_refused")]
    [InlineData(SocketError.HostUnreachable, "host_unreachable")]
    [InlineData(SocketError.NetworkUnreachable, "network_unreachable")]
    [InlineData(SocketError.TimedOut, "timed_out")]
    [InlineData(SocketError.AddressNotAvailable, "address_not_available")]
    [InlineData(SocketError.AddressAlreadyInUse, "address_already_in_use")]
    [InlineData(SocketError.IOPending, "io_pending")]
    [InlineData(SocketError.TooManyOpenSockets, "too_many_open_sockets")]
    public void Of_SocketError_SnakeCaseName(SocketError code, string expected)
    {
        Assert.Equal(expected, ErrorTypes.Of(code));
        Assert.Equal(expected, ErrorTypes.Of(new SocketException((int)code)));
    }

    [Fact]
    public void Of_Exhaustion_IsBudgetExhaustedNotTheSocketCode()
    {
        // TupleBudgetExhaustedException is a SocketException (AddressNotAvailable) for old handlers.
        var error = new TupleBudgetExhaustedException(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1), []);

        Assert.Equal("budget_exhausted", ErrorTypes.Of(error));
    }
}
