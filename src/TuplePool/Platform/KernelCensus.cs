namespace TuplePool.Platform;

/// <summary>Reads <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>.</summary>
internal sealed class KernelCensus(IProcFileSystem fileSystem) : IKernelCensus
{
    public const string TcpPath = "/proc/net/tcp";
    public const string Tcp6Path = "/proc/net/tcp6";

    /// <summary>The census of this machine's real <c>/proc</c>.</summary>
    public static readonly KernelCensus Default = new(ProcFileSystem.Default);

    public KernelCensusSnapshot Read()
    {
        var counts = new Dictionary<KernelCensusKey, int>();
        var malformed = 0;
        List<string>? unreadable = null;
        foreach (var path in (ReadOnlySpan<string>)[TcpPath, Tcp6Path])
        {
            var text = fileSystem.TryReadAllText(path);
            if (text is null)
            {
                (unreadable ??= []).Add(path);
                continue;
            }

            malformed += KernelCensusParser.ParseInto(text, BitConverter.IsLittleEndian, counts);
        }

        return new KernelCensusSnapshot(counts, malformed, unreadable is null ? [] : unreadable);
    }
}
