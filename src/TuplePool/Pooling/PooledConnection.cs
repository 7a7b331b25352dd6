using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// One open connection owned by the pool: the socket, the tuple reservation it holds, its
/// lifetime stamps, and the lease token that makes stale <see cref="SocketLease"/> copies inert.
/// </summary>
/// <remarks>
/// The token only grows: it is bumped when the connection is lent (plain write — the lender
/// owns the connection exclusively after taking it from the idle store) and again when the lease
/// ends (compare-and-swap, so of two copies disposed at once exactly one returns the socket).
/// A lease copy is live only while its token equals the current one.
/// </remarks>
internal sealed class PooledConnection
{
    private int _token;
    private PooledNetworkStream? _stream;

    public PooledConnection(Socket socket, TupleLedger ledger, DestinationPool owner, long createdAt)
    {
        Socket = socket;
        Ledger = ledger;
        Owner = owner;
        CreatedAt = createdAt;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
    }

    public Socket Socket { get; }

    public TupleLedger Ledger { get; }

    public DestinationPool Owner { get; }

    public IPEndPoint LocalEndPoint { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>Timestamp of the connect.</summary>
    public long CreatedAt { get; }

    /// <summary>Timestamp of the last return to the idle store.</summary>
    public long IdleSince { get; set; }

    /// <summary>Set by <see cref="SocketLease.Invalidate"/>: close on return.</summary>
    public bool Invalidated { get; private set; }

    /// <summary>Lazily created once per connection; it does not own the socket.</summary>
    public Stream Stream => _stream ??= new PooledNetworkStream(Socket);

    /// <summary>The caller disposed <see cref="Stream"/>: the connection cannot be lent again.</summary>
    public bool StreamDisposed => _stream is { WasDisposed: true };

    public bool IsLeasedWith(int token) => Volatile.Read(ref _token) == token;

    /// <summary>Starts a lease; the caller owns the connection exclusively at this point.</summary>
    public int BeginLease()
    {
        var token = _token + 1;
        Invalidated = false;
        Volatile.Write(ref _token, token);
        return token;
    }

    /// <summary>Ends the lease with <paramref name="token"/>; false when it already ended.</summary>
    public bool TryEndLease(int token) => Interlocked.CompareExchange(ref _token, token + 1, token) == token;

    public void Invalidate() => Invalidated = true;

    /// <summary>Called by <see cref="SocketLease.Dispose"/>.</summary>
    public void EndLease(int token)
    {
        if (TryEndLease(token))
        {
            Owner.Return(this);
        }
    }

    public override string ToString() => $"{LocalEndPoint} -> {RemoteEndPoint}";
}
