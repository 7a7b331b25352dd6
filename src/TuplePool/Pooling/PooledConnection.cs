using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// One open connection owned by the pool: the socket, the charge it holds (<see cref="ConnectionCharge"/>), its
/// lifetime stamps, and the lease token that makes stale <see cref="SocketLease"/> copies inert.
/// </summary>
/// <remarks>
/// The token only grows: it is bumped when the connection is lent (plain write — the lender
/// owns the connection exclusively after taking it from the idle store or a waiter hand-off)
/// and again when the lease ends (compare-and-swap, so of two copies disposed at once exactly
/// one returns the socket). A lease copy is live only while its token equals the current one.
/// <see cref="SocketLease.Invalidate"/> records the token it was called with, not a flag, so a
/// stale copy that passed its token check just before the lease ended cannot mark the next
/// borrower's lease.
/// </remarks>
internal sealed class PooledConnection
{
    private readonly SafeSocketHandle _handle;
    private int _token;
    private int _invalidatedToken;
    private PooledNetworkStream? _stream;
    private IPEndPoint? _localEndPoint;
    private IPEndPoint? _remoteEndPoint;

    public PooledConnection(Socket socket, ConnectionCharge charge, IConnectionOwner owner, long createdAt)
    {
        Socket = socket;
        _handle = socket.SafeHandle;
        Charge = charge;
        Owner = owner;
        CreatedAt = createdAt;
    }

    public Socket Socket { get; }

    /// <summary>Everything the connection is charged with; released once, when it closes.</summary>
    public ConnectionCharge Charge { get; }

    /// <summary>Its local tuple's ledger.</summary>
    public TupleLedger Ledger => Charge.Local;

    public IConnectionOwner Owner { get; }

    /// <summary>
    /// The local address and port, read from the kernel (getsockname) on first use: with
    /// IP_BIND_ADDRESS_NO_PORT the port is chosen at connect, and most callers never ask.
    /// </summary>
    public IPEndPoint LocalEndPoint => _localEndPoint ??= (IPEndPoint)Socket.LocalEndPoint!;

    /// <summary>
    /// The address connected to: the tuple's destination, copied on first use so a caller that
    /// changes the object cannot change the ledger's key (no getpeername).
    /// </summary>
    public IPEndPoint RemoteEndPoint => _remoteEndPoint ??= DestinationKeys.Copy(Ledger.Tuple.Destination);

    /// <summary>Timestamp of the connect.</summary>
    public long CreatedAt { get; }

    /// <summary>Idle longer than this (timestamp ticks) and it is never lent: IdleTimeout, or the NAT's idle timeout when it crosses the NAT and that is shorter.</summary>
    public long IdleTimeoutTicks { get; init; } = long.MaxValue;

    /// <summary>Timestamp of the last return to the idle store.</summary>
    public long IdleSince { get; set; }

    /// <summary>When the current lease began, while a listener records <c>tuplepool.connection.use_time</c>; else 0.</summary>
    public long LentAt { get; set; }

    /// <summary>
    /// When the current lease began on the pool's coarse clock (<see cref="PoolSettings.CoarseNow"/>,
    /// a field read, no clock read), always kept; 0 while the connection is not lent. How a refusal
    /// names the oldest leases and their age.
    /// </summary>
    public long LeasedSince { get; set; }

    /// <summary>The idle-store stripe it was last lent from, where it goes back; -1 before its first lend.</summary>
    public int IdleStripe { get; set; } = -1;

    /// <summary>Set by the owner when it starts watching the connection for an abandoned lease.</summary>
    public long Id { get; set; }

    /// <summary>The lease that just ended asked to close the connection instead of keeping it.</summary>
    public bool Invalidated => _invalidatedToken != 0 && _invalidatedToken == _token - 1;

    /// <summary>Lazily created once per connection; it does not own the socket.</summary>
    public Stream Stream => _stream ??= new PooledNetworkStream(Socket);

    /// <summary>
    /// Fit to keep after a lease: not invalidated, its stream not disposed, its socket not closed
    /// behind the lease's back (without <see cref="TuplePoolOptions.ValidateOnAcquire"/> nothing
    /// else would look before lending it again).
    /// </summary>
    public bool IsReusable => !Invalidated && _stream is not { WasDisposed: true } && !_handle.IsClosed;

    public bool IsLeasedWith(int token) => Volatile.Read(ref _token) == token;

    /// <summary>Starts a lease; the caller owns the connection exclusively at this point.</summary>
    public int BeginLease()
    {
        var token = _token + 1;
        if (token <= 0)
        {
            token = 1; // after 2^31 leases: 0 stays "never", so a default lease never matches
        }

        Volatile.Write(ref _token, token);
        return token;
    }

    /// <summary>Ends the lease with <paramref name="token"/>; false when it already ended.</summary>
    public bool TryEndLease(int token) => Interlocked.CompareExchange(ref _token, token + 1, token) == token;

    /// <summary>Marks the lease with <paramref name="token"/> for closing; false when that lease already ended.</summary>
    public bool TryInvalidate(int token)
    {
        if (!IsLeasedWith(token))
        {
            return false;
        }

        // Should the lease end right here, the next lease has another token, which this does not match.
        Volatile.Write(ref _invalidatedToken, token);
        return true;
    }

    /// <summary>Called by <see cref="SocketLease.Dispose"/>.</summary>
    public void EndLease(int token)
    {
        if (TryEndLease(token))
        {
            Owner.Return(this);
        }
    }

    /// <summary>The tuple with its local port, read from the kernel if it was not yet (for a refusal's message; the lessee may have closed the socket).</summary>
    public string Describe()
    {
        try
        {
            _ = LocalEndPoint;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // Closed behind the lease's back, or never bound: the source address is all there is.
        }

        return ToString();
    }

    /// <summary>The tuple, with the local port once it has been read; never a system call (logs may run after close).</summary>
    public override string ToString() => $"{_localEndPoint?.ToString() ?? Ledger.Tuple.Source.ToString()} -> {Ledger.Tuple.Destination}";
}

/// <summary>Where a connection goes back when its lease ends (its <see cref="DestinationPool"/>).</summary>
internal interface IConnectionOwner
{
    void Return(PooledConnection connection);
}
