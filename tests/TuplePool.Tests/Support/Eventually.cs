namespace TuplePool.Tests.Support;

/// <summary>
/// Bounded re-checks of state that raises no event a test could await (a pool's ledger after the
/// reaper's close, the kernel's socket table). Waits on the condition, never for a fixed time:
/// it returns as soon as the condition holds.
/// </summary>
public static class Eventually
{
    public static async Task<bool> TrueAsync(Func<bool> condition, TimeSpan? limit = null)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(started) > (limit ?? TimeSpan.FromSeconds(10)))
            {
                return condition();
            }

            await Task.Delay(10);
        }

        return true;
    }
}
