using TuplePool.Internal;

namespace TuplePool.Connecting;

/// <summary>Which option set a connect's time limit.</summary>
internal enum ConnectLimit
{
    /// <summary>No limit beyond each attempt's.</summary>
    None,

    /// <summary><see cref="TuplePoolOptions.ConnectTimeout"/>, per attempt.</summary>
    ConnectTimeout,

    /// <summary><see cref="TuplePoolOptions.TotalConnectTimeout"/>, over every attempt of one new connection.</summary>
    TotalConnectTimeout,

    /// <summary>The acquire's own bound (<see cref="TuplePoolOptions.AcquireTimeout"/>, or a shorter one its caller set): it ends sooner than the connect's.</summary>
    AcquireTimeout,
}

/// <summary>
/// The time limits one new connection runs under, passed down as one value: each attempt's
/// <see cref="TuplePoolOptions.ConnectTimeout"/>, and one deadline over all attempts — whichever
/// comes first of <see cref="TuplePoolOptions.TotalConnectTimeout"/> from the open's start and
/// the acquire's own deadline — with the option that set it, so an error names the limit that
/// was really reached.
/// </summary>
internal readonly record struct ConnectLimits(TimeSpan AttemptTimeout, long Deadline, ConnectLimit DeadlineSetBy)
{
    /// <summary>The limits of an open that starts at <paramref name="now"/>; <paramref name="acquireDeadline"/> is a timestamp (<see cref="long.MaxValue"/> for none).</summary>
    public static ConnectLimits Start(TuplePoolOptions options, TimeProvider time, long now, long acquireDeadline)
    {
        var deadline = long.MaxValue;
        var setBy = ConnectLimit.None;
        if (options.TotalConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            deadline = now + Timestamps.ToTicks(options.TotalConnectTimeout, time);
            setBy = ConnectLimit.TotalConnectTimeout;
        }

        if (acquireDeadline < deadline)
        {
            deadline = acquireDeadline;
            setBy = ConnectLimit.AcquireTimeout;
        }

        return new ConnectLimits(options.ConnectTimeout, deadline, setBy);
    }

    public bool HasDeadline => Deadline != long.MaxValue;

    public bool IsPast(long now) => now >= Deadline;

    /// <summary>How long the attempt starting at <paramref name="now"/> may take, and which limit that is.</summary>
    public (TimeSpan Timeout, ConnectLimit SetBy) ForAttempt(long now, TimeProvider time)
    {
        if (!HasDeadline)
        {
            return (AttemptTimeout, ConnectLimit.ConnectTimeout);
        }

        var left = time.GetElapsedTime(now, Deadline);
        return left < AttemptTimeout ? (left > TimeSpan.Zero ? left : TimeSpan.Zero, DeadlineSetBy) : (AttemptTimeout, ConnectLimit.ConnectTimeout);
    }

    /// <summary>The option a limit stands for, as an error message names it.</summary>
    public static string Describe(ConnectLimit limit) => limit switch
    {
        ConnectLimit.TotalConnectTimeout => "TuplePoolOptions.TotalConnectTimeout, the bound on all attempts of one new connection",
        ConnectLimit.AcquireTimeout => "TuplePoolOptions.AcquireTimeout, the bound on the whole acquire, waiting and connecting",
        _ => "TuplePoolOptions.ConnectTimeout",
    };
}

/// <summary>An attempt ran out of its time (<see cref="Limit"/> says whose); the open maps it to a <c>TimedOut</c> <see cref="System.Net.Sockets.SocketException"/>.</summary>
internal sealed class ConnectAttemptTimedOutException(ConnectLimit limit, TimeSpan timeout, bool anotherSourceMayTry)
    : TimeoutException($"A connect attempt timed out after {timeout}.")
{
    public ConnectLimit Limit { get; } = limit;

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>Only ConnectTimeout cut it, and a source not yet tried may still answer: worth another attempt.</summary>
    public bool AnotherSourceMayTry { get; } = anotherSourceMayTry;
}
