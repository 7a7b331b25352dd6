using Microsoft.Extensions.Options;

namespace TuplePool.Yarp;

/// <summary>
/// The one place the <c>Retry-After</c> of a 503 for an exhausted budget comes from: the refusal's
/// own hint of when room may come (<see cref="TupleBudgetExhaustedException.RetryAfter"/>: the next
/// TIME_WAIT or kernel-refusal hold ending, the NAT's next hold, a quarantine's end), or, when it
/// has none (only a close can bring room), <see cref="TuplePoolProxyOptions.RetryAfter"/>.
/// </summary>
internal sealed class RetryAfterPolicy(IOptions<TuplePoolProxyOptions> options)
{
    private readonly TimeSpan _retryAfter = options.Value.RetryAfter;

    /// <summary>Whole seconds, rounded up (RFC 9110 section 10.2.3: <c>Retry-After</c> is a non-negative integer of seconds).</summary>
    public long SecondsFor(TupleBudgetExhaustedException refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        if (refusal.RetryAfter is not { } hint || hint < TimeSpan.Zero)
        {
            return WholeSeconds(_retryAfter);
        }

        // At least 1 s: a hint already due (room should be there, yet the pool found none) must
        // not send every client straight back.
        return Math.Max(1, WholeSeconds(hint));
    }

    private static long WholeSeconds(TimeSpan span) => (span.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
}
