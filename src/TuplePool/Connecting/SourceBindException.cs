using System.Net;
using System.Net.Sockets;

namespace TuplePool.Connecting;

/// <summary>bind() to a source address failed: the source is unusable, not the destination.</summary>
internal sealed class SourceBindException(IPAddress source, SocketException inner)
    : Exception($"Cannot bind to source address {source}: {Describe(inner.SocketErrorCode)} ({inner.SocketErrorCode}).", inner)
{
    public IPAddress SourceAddress { get; } = source;

    public SocketError SocketErrorCode { get; } = inner.SocketErrorCode;

    private static string Describe(SocketError error) => error switch
    {
        SocketError.AddressNotAvailable => "the address is not assigned to this machine; check TuplePoolOptions.SourceAddresses",
        SocketError.AddressAlreadyInUse => "no local port is free on it",
        SocketError.AccessDenied => "permission denied",
        _ => "the kernel refused it",
    };
}
