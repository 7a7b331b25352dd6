using System.Net;
using TuplePool.Budget;
using TuplePool.Yarp;

namespace TuplePool.Tests.Yarp;

/// <summary>The 503's Retry-After: the refusal's own hint of when room may come, else the configured value.</summary>
public sealed class RetryAfterPolicyTests
{
    private static readonly IPEndPoint Backend = new(IPAddress.Loopback, 20000);

    private static RetryAfterPolicy CreateSut(double configuredSeconds = 5)
        => new(Microsoft.Extensions.Options.Options.Create(new TuplePoolProxyOptions { RetryAfter = TimeSpan.FromSeconds(configuredSeconds) }));

    private static TupleBudgetExhaustedException Refusal(TimeSpan? retryAfter)
        => new(Backend, [new TupleUsage(IPAddress.Parse("127.0.0.2"), Backend, 2, 0, 0, 2, 0)], [], new RefusalFacts { RetryAfter = retryAfter });

    [Theory]
    [InlineData(2.2, 3)] // the next TIME_WAIT ends in 2.2 s: whole seconds, rounded up
    [InlineData(53, 53)]
    [InlineData(0, 1)] // already due: at least a second, not straight back
    public void SecondsFor_ARefusalWithAHint_IsTheHint(double hintSeconds, long expected)
        => Assert.Equal(expected, CreateSut().SecondsFor(Refusal(TimeSpan.FromSeconds(hintSeconds))));

    [Fact]
    public void SecondsFor_ARefusalWithoutAHint_IsTheConfiguredValue()
        => Assert.Equal(7, CreateSut(configuredSeconds: 6.5).SecondsFor(Refusal(retryAfter: null)));
}
