namespace TuplePool.Platform;

/// <summary>Reads <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>.</summary>
internal sealed class KernelCensus(IProcFileSystem fileSystem) : IKernelCensus
{
    public KernelCensusSnapshot Read() => throw new NotImplementedException(fileSystem.ToString());
}
