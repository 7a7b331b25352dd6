namespace TuplePool.Tests.Support;

/// <summary>Counts this process's open file descriptors (Linux: entries of /proc/self/fd).</summary>
public static class OpenFiles
{
    public static int Count() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Waits briefly for the count to fall back to <paramref name="expected"/> (finalizers, async closes).</summary>
    public static async Task<int> SettleAsync(int expected)
    {
        var count = Count();
        for (var i = 0; i < 100 && count > expected; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(20);
            count = Count();
        }

        return count;
    }
}
