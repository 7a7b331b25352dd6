using TuplePool.Internal;

namespace TuplePool.Tests.Internal;

/// <summary>One event per interval passes; the next that passes carries the count of those held back.</summary>
public sealed class KeyedEventThrottleTests
{
    private const long Interval = 5_000;

    [Fact]
    public void TryPass_TheFirstOfAKey_PassesWithNoneHeldBack()
    {
        Assert.True(new KeyedEventThrottle<string>().TryPass("a", now: 100, Interval, out var suppressed));
        Assert.Equal(0, suppressed);
    }

    [Fact]
    public void TryPass_WithinTheInterval_IsHeldBack_AndTheNextToPassCountsThem()
    {
        var throttle = new KeyedEventThrottle<string>();
        throttle.TryPass("a", now: 0, Interval, out _);

        var held = Enumerable.Range(1, 7).Count(i => !throttle.TryPass("a", now: i * 100, Interval, out _));
        var passed = throttle.TryPass("a", now: Interval, Interval, out var suppressed);
        var heldAgain = !throttle.TryPass("a", now: Interval + 1, Interval, out _);
        throttle.TryPass("a", now: 3 * Interval, Interval, out var afterQuiet);

        Assert.Equal(7, held);
        Assert.True(passed);
        Assert.Equal(7, suppressed);
        Assert.True(heldAgain);
        Assert.Equal(1, afterQuiet);
    }

    [Fact]
    public void TryPass_EachKeyHasItsOwnInterval()
    {
        var throttle = new KeyedEventThrottle<string>();

        Assert.True(throttle.TryPass("a", now: 0, Interval, out _));
        Assert.True(throttle.TryPass("b", now: 1, Interval, out _));
        Assert.False(throttle.TryPass("a", now: 2, Interval, out _));
        Assert.True(throttle.TryPass("a", now: Interval, Interval, out var suppressed));
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void TryPass_ManyKeysWithNothingHeldBack_AreDropped_OnesWithACountAreKept()
    {
        var throttle = new KeyedEventThrottle<int>();
        throttle.TryPass(-1, now: 0, Interval, out _);
        throttle.TryPass(-1, now: 1, Interval, out _); // held back: kept until its next line
        for (var key = 0; key <= KeyedEventThrottle<int>.PruneAbove; key++)
        {
            throttle.TryPass(key, now: 0, Interval, out _);
        }

        throttle.TryPass(int.MaxValue, now: Interval, Interval, out _);

        Assert.Equal(2, throttle.Count); // the one with a count, and the newcomer
        Assert.True(throttle.TryPass(-1, now: Interval, Interval, out var suppressed));
        Assert.Equal(1, suppressed);
    }
}
