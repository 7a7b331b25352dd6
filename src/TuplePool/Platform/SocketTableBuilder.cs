namespace TuplePool.Platform;

/// <summary>
/// Collects the sockets of one census pass, each once: a repeat (see <see cref="SocketIdentity"/>)
/// replaces the earlier report, since it was read later and so says where the socket is now.
/// </summary>
internal sealed class SocketTableBuilder
{
    private readonly Dictionary<SocketIdentity, int> _index = [];
    private readonly List<SocketRecord> _records = [];

    /// <summary>Reports that repeated a socket already collected.</summary>
    public int Duplicates { get; private set; }

    public int Count => _records.Count;

    public void Add(in SocketRecord record)
    {
        var identity = SocketIdentity.Of(record);
        if (_index.TryGetValue(identity, out var at))
        {
            _records[at] = record;
            Duplicates++;
        }
        else
        {
            _index.Add(identity, _records.Count);
            _records.Add(record);
        }
    }

    /// <summary>Starts a new pass (after a truncated read that is read again).</summary>
    public void Clear()
    {
        _index.Clear();
        _records.Clear();
        Duplicates = 0;
    }

    /// <summary>Appends every collected socket to <paramref name="results"/> as a <see cref="KernelSocket"/>.</summary>
    public void CopyTo(List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        results.EnsureCapacity(results.Count + _records.Count);
        foreach (var record in _records)
        {
            results.Add(record.ToKernelSocket());
        }
    }
}
