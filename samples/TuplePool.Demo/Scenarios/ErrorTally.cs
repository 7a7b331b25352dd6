using System.Collections.Concurrent;

namespace TuplePool.Demo.Scenarios;

/// <summary>Counts failures by error name, from many tasks at once.</summary>
internal sealed class ErrorTally
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private int _total;

    public int Total => Volatile.Read(ref _total);

    public IReadOnlyDictionary<string, int> ByName => _counts;

    public void Add(Exception e)
    {
        _counts.AddOrUpdate(Format.ErrorName(e), 1, static (_, n) => n + 1);
        Interlocked.Increment(ref _total);
    }

    public override string ToString() => Format.Errors(_counts);
}
