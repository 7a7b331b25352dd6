namespace TuplePool.Pooling;

/// <summary>
/// The callers waiting at every destination of a pool, kept by each <see cref="WaiterQueue"/> as
/// its line changes, so reading it does not walk every destination the pool knows.
/// </summary>
internal sealed class WaitingCount
{
    private int _value;

    public int Value => Volatile.Read(ref _value);

    public void Add(int delta) => Interlocked.Add(ref _value, delta);
}
