using TuplePool.Tests.Support;
namespace TuplePool.Tests.Support;

/// <summary>
/// Gives each test its own slice of client ports, so TIME_WAIT left by one test never starves
/// another. Each group of tests owns a block: <see cref="Pool"/> 35000–44999 (pool, budget,
/// telemetry), <see cref="Integration"/> 45000–49999 (hosting, HTTP); the platform tests keep
/// to 33000–33999.
/// </summary>
public sealed class PortSlices
{
    private readonly int _first;
    private readonly int _last;
    private int _next;

    private PortSlices(int first, int last)
    {
        _first = first;
        _last = last;
        _next = first;
    }

    public static PortSlices Pool { get; } = new(35000, 44999);

    public static PortSlices Integration { get; } = new(45000, 49999);

    /// <summary>The next <paramref name="count"/> ports of the <see cref="Pool"/> block.</summary>
    public static PortRange Next(int count) => Pool.Take(count);

    public PortRange Take(int count)
    {
        var start = Interlocked.Add(ref _next, count) - count;
        if (start + count - 1 > _last)
        {
            throw new InvalidOperationException($"The test port block {_first}-{_last} is used up; give tests smaller slices.");
        }

        return new PortRange(start, start + count - 1);
    }
}
