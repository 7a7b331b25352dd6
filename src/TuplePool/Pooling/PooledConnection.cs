using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// One open connection owned by the pool: the socket, the charge it holds (<see cref="ConnectionCharge"/>), its
/// lifetime stamps, and the lease token that makes stale <see cref="SocketLease"/> copies inert.
/// </summary>
/// <remarks>
/// <para>One word, <c>_state</c>, says who may touch the connection and which lease is current:
/// its low two bits are the kind — held (its owner's alone: being connected, in a ring of the
/// idle store, handed over, closing), leased, or idle (a slot's resident, free for whoever wins a
/// compare-and-swap; see <see cref="IdleStore"/>) — and the bits above them count the leases.
/// A lease's token is the word while it is leased: lending bumps the count, so a copy of an
/// earlier lease never matches again (after 2^30 leases the count wraps).</para>
/// <para>Ending a lease is a compare-and-swap from its token, so of two copies disposed at once
/// exactly one returns the socket; the same instruction makes the connection idle again when it
/// is a slot's resident, so the return costs no second atomic. <see cref="SocketLease.Invalidate"/>
/// records the token it was called with, not a flag, so a stale copy that passed its token check
/// just before the lease ended cannot mark the next borrower's lease.</para>
/// </remarks>
internal sealed class PooledConnection
{
    private readonly SafeSocketHandle _handle;
    private const int KindMask = 3;
    private const int Held = 0;
    private const int Leased = 1;
    private const int Idle = 2;
    private const int LeaseStep = 4;

    private int _state;
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

    /// <summary>The local end, or null when the socket can no longer say (disposed behind the lease's back, reset).</summary>
    public IPEndPoint? TryGetLocalEndPoint()
    {
        try
        {
            return LocalEndPoint;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return null;
        }
    }

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
    /// a field read, no clock read), written at every lend and left as it is on return (the
    /// return path stays a single swap): it counts only while <see cref="IsLeased"/>; 0 before the first lend. How a refusal
    /// names the oldest leases and their age.
    /// </summary>
    public long LeasedSince { get; set; }

    /// <summary>The idle-store stripe it was last lent from, where it goes back; -1 before its first lend.</summary>
    public int IdleStripe { get; set; } = -1;

    /// <summary>Set by the owner when it starts watching the connection for an abandoned lease.</summary>
    public long Id { get; set; }

    /// <summary>The lease that just ended (the connection is held or idle, not lent again yet) asked to close the connection instead of keeping it.</summary>
    public bool Invalidated
    {
        get
        {
            var invalidated = Volatile.Read(ref _invalidatedToken);
            return invalidated != 0 && invalidated == ((Volatile.Read(ref _state) & ~KindMask) | Leased);
        }
    }

    /// <summary>A slot's resident free to take.</summary>
    public bool IsIdle => (Volatile.Read(ref _state) & KindMask) == Idle;

    /// <summary>Lent now.</summary>
    public bool IsLeased => (Volatile.Read(ref _state) & KindMask) == Leased;

    /// <summary>Lazily created once per connection; it does not own the socket.</summary>
    public Stream Stream => _stream ??= new PooledNetworkStream(Socket);

    /// <summary>
    /// Fit to keep after a lease: not invalidated, its stream not disposed, its socket not closed
    /// behind the lease's back (without <see cref="TuplePoolOptions.ValidateOnAcquire"/> nothing
    /// else would look before lending it again).
    /// </summary>
    public bool IsReusable => !Invalidated && _stream is not { WasDisposed: true } && !_handle.IsClosed;

    /// <summary>Fit to keep after the lease <paramref name="token"/>, read before that lease has ended (for a return that ends it and makes it idle in one step).</summary>
    public bool IsReusableAfter(int token)
        => Volatile.Read(ref _invalidatedToken) != token && _stream is not { WasDisposed: true } && !_handle.IsClosed;

    public bool IsLeasedWith(int token) => Volatile.Read(ref _state) == token;

    /// <summary>Starts a lease; the caller holds the connection (it is not idle, nobody else may touch it).</summary>
    public int BeginLease()
    {
        System.Diagnostics.Debug.Assert((_state & KindMask) == Held, "Only a held connection is lent this way.");
        var token = NextLease(_state);
        Volatile.Write(ref _state, token);
        return token;
    }

    /// <summary>Lends an idle resident: idle to leased in one compare-and-swap; false when someone else took it first or it is not idle.</summary>
    public bool TryLendIdle(out int token)
    {
        var state = Volatile.Read(ref _state);
        token = NextLease(state);
        return (state & KindMask) == Idle && Interlocked.CompareExchange(ref _state, token, state) == state;
    }

    /// <summary>Takes an idle resident for the caller to hold (to lend, judge or close); false when it is not idle or another took it first.</summary>
    public bool TryTakeIdle()
    {
        var state = Volatile.Read(ref _state);
        return (state & KindMask) == Idle && Interlocked.CompareExchange(ref _state, state & ~KindMask, state) == state;
    }

    /// <summary>The holder makes it idle (it is, or is about to be, a slot's resident); a full fence, for the race <see cref="IdleStore"/> describes.</summary>
    public void MarkIdle()
    {
        System.Diagnostics.Debug.Assert((_state & KindMask) == Held, "Only the holder makes a connection idle.");
        Interlocked.Exchange(ref _state, (_state & ~KindMask) | Idle);
    }

    /// <summary>
    /// Ends the lease with <paramref name="token"/>, leaving the connection held by the caller,
    /// or idle where it is a resident when <paramref name="idle"/>; false when that lease already ended.
    /// </summary>
    public bool TryEndLease(int token, bool idle = false)
        => Interlocked.CompareExchange(ref _state, (token & ~KindMask) | (idle ? Idle : Held), token) == token;

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

    /// <summary>Called by <see cref="SocketLease.Dispose"/>: the owner ends the lease (once, whichever copy comes first) and takes the connection back.</summary>
    public void EndLease(int token) => Owner.Return(this, token);

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

    /// <summary>The token of the next lease after <paramref name="state"/>: the count bumped (wrapping), the kind leased.</summary>
    private static int NextLease(int state) => (int)(((uint)state & ~(uint)KindMask) + LeaseStep) | Leased;
}

/// <summary>Where a connection goes back when its lease ends (its <see cref="DestinationPool"/>).</summary>
internal interface IConnectionOwner
{
    /// <summary>Ends the lease <paramref name="token"/> (nothing when it already ended) and keeps, hands on or closes the connection.</summary>
    void Return(PooledConnection connection, int token);
}
