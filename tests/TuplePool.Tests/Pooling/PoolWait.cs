namespace TuplePool.Tests.Pooling;

/// <summary>Waits for the pool to reach a state, instead of sleeping and hoping it did.</summary>
internal static class PoolWait
{
    /// <summary>Until <paramref name="count"/> callers are asleep in line (at most 10 s).</summary>
    public static async Task UntilPendingAsync(ISocketPool pool, int count)
    {
        for (var i = 0; i < 1000 && pool.GetSnapshot().PendingAcquires != count; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(count, pool.GetSnapshot().PendingAcquires);
    }

    /// <summary>Until <paramref name="condition"/> holds (at most 10 s).</summary>
    public static async Task UntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
