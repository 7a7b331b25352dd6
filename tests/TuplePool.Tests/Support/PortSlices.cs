namespace TuplePool.Tests.Support;

/// <summary>
/// Gives each test its own slice of the client port range (the pool and platform tests own
/// 35000–44999), so TIME_WAIT left by one test never starves another.
/// </summary>
public static class PortSlices
{
    private const int First = 35000;
    private const int Last = 44999;
    private static int _next = First;

    public static PortRange Next(int count)
    {
        var first = Interlocked.Add(ref _next, count) - count;
        if (first + count - 1 > Last)
        {
            throw new InvalidOperationException("The test port slices 35000-44999 are used up; give tests smaller slices.");
        }

        return new PortRange(first, first + count - 1);
    }
}
