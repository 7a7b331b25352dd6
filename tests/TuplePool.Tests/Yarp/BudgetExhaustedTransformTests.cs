using System.Net;
using System.Net.Sockets;
using TuplePool.Yarp;

namespace TuplePool.Tests.Yarp;

/// <summary>Where YARP's forwarder error hides the pool's refusal: behind HttpRequestException, and behind AggregateException on request body failures.</summary>
public sealed class BudgetExhaustedTransformTests
{
    private static readonly TupleBudgetExhaustedException Refusal = new(new IPEndPoint(IPAddress.Loopback, 20000), []);

    [Fact]
    public void Find_BehindAnHttpRequestException_IsFound()
        => Assert.Same(Refusal, BudgetExhaustedTransform.Find(new HttpRequestException("connect failed", Refusal), depth: 8));

    [Fact]
    public void Find_InsideAnAggregateAfterAnotherFailure_IsFound()
    {
        var error = new AggregateException(new IOException("request body"), new HttpRequestException("connect failed", Refusal));

        Assert.Same(Refusal, BudgetExhaustedTransform.Find(error, depth: 8));
    }

    [Fact]
    public void Find_AnotherSocketError_IsNotARefusal()
        => Assert.Null(BudgetExhaustedTransform.Find(new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)), depth: 8));
}
