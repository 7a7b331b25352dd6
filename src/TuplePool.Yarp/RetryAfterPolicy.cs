using Microsoft.Extensions.Options;

namespace TuplePool.Yarp;

/// <summary>
/// The one place the <c>Retry-After</c> of a 503 for an exhausted budget comes from. Today it is
/// <see cref="TuplePoolProxyOptions.RetryAfter"/> for every refusal; the refusal is passed in so a
/// hint the exception carries about when room comes can take over here without touching the response.
/// </summary>
internal sealed class RetryAfterPolicy(IOptions<TuplePoolProxyOptions> options)
{
    private readonly TimeSpan _retryAfter = options.Value.RetryAfter;

    /// <summary>Whole seconds, rounded up (RFC 9110 section 10.2.3: <c>Retry-After</c> is a non-negative integer of seconds).</summary>
    public long SecondsFor(TupleBudgetExhaustedException refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return (_retryAfter.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
    }
}
