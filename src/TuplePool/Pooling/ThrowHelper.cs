using System.Diagnostics.CodeAnalysis;

namespace TuplePool.Pooling;

/// <summary>Throws kept out of hot methods so they stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowLeaseDisposed()
        => throw new ObjectDisposedException(nameof(SocketLease), "The lease was disposed; its socket may now belong to another caller.");

    [DoesNotReturn]
    public static void ThrowLeaseNeverAcquired()
        => throw new ObjectDisposedException(nameof(SocketLease), "This lease was never acquired: it is default(SocketLease), not one returned by ISocketPool.AcquireAsync.");

    [DoesNotReturn]
    public static void ThrowPoolDisposed()
        => throw new ObjectDisposedException("SocketPool"); // the facade's name, written out: Pooling does not reach up to it
}
