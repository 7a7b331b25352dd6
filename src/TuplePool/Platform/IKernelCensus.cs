namespace TuplePool.Platform;

/// <summary>Counts the TCP sockets the whole machine holds, per tuple; a seam for tests.</summary>
internal interface IKernelCensus
{
    KernelCensusSnapshot Read();
}
