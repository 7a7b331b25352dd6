namespace TuplePool.Tests.Http;

/// <summary>
/// Client port slices for the Hosting and Http tests that open connections: 45000–49999 belongs
/// to them, and each test takes its own slice so TIME_WAIT left by one never starves another.
/// </summary>
public static class IntegrationPortSlices
{
    private const int First = 45000;
    private const int Last = 49999;
    private static int _next = First;

    public static PortRange Next(int count)
    {
        var first = Interlocked.Add(ref _next, count) - count;
        if (first + count - 1 > Last)
        {
            throw new InvalidOperationException("The integration test port slices 45000-49999 are used up; give tests smaller slices.");
        }

        return new PortRange(first, first + count - 1);
    }
}
