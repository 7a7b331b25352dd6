using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;

namespace TuplePool;

/// <summary>
/// No source address had a free port to the destination within
/// <see cref="TuplePoolOptions.AcquireTimeout"/>, or <see cref="TuplePoolOptions.MaxPendingAcquires"/>
/// callers were already waiting for one. TuplePool throws this instead of letting the kernel
/// fail a connect with <c>EADDRNOTAVAIL</c>; <see cref="SocketException.SocketErrorCode"/> is
/// <see cref="SocketError.AddressNotAvailable"/> so existing handlers keep working.
/// </summary>
/// <remarks>
/// <see cref="Cause"/> names what held the room (the README's "Refusal causes" table says what to
/// do about each), and the message says it with the numbers of every source under it;
/// <see cref="RetryAfter"/> says when room may come by itself.
/// </remarks>
public sealed class TupleBudgetExhaustedException : SocketException
{
    private readonly string _message;
    private IRefusalReceipts? _receipts;
    private long _ticket;
    private int _background;

    /// <summary>Creates the exception for <paramref name="destination"/> with the usage of each source.</summary>
    public TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage)
        : this(destination, usage, nat: [])
    {
    }

    /// <summary>
    /// Creates the exception for <paramref name="destination"/> with the usage of each source and
    /// of the NAT on the path; <see cref="Cause"/> is judged from that usage alone.
    /// </summary>
    public TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat)
        : this(destination, usage, nat, RefusalFacts.None)
    {
    }

    /// <summary>The pool's refusal: the usage and what else it knew when it gave up.</summary>
    internal TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, RefusalFacts facts)
        : base((int)SocketError.AddressNotAvailable)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(nat);
        ArgumentNullException.ThrowIfNull(facts);
        Destination = destination;
        Usage = usage;
        Nat = nat;
        WaitLineFull = facts.WaitLineLimit is not null;
        Cause = RefusalExplanation.Classify(usage, nat, facts);
        RetryAfter = facts.RetryAfter is { } after && after < TimeSpan.Zero ? TimeSpan.Zero : facts.RetryAfter;
        _message = RefusalExplanation.Describe(destination, usage, nat, facts);
    }

    /// <summary>The destination that had no room.</summary>
    public EndPoint Destination { get; }

    /// <summary>The usage of each (source, destination) tuple when the acquire gave up.</summary>
    public IReadOnlyList<TupleUsage> Usage { get; }

    /// <summary>The NAT's usage for each of the destination's addresses behind it (<see cref="TuplePoolOptions.Nat"/>); empty when none is.</summary>
    public IReadOnlyList<NatUsage> Nat { get; }

    /// <summary>
    /// What held the room the caller needed, named from the same numbers the message shows:
    /// the pool's own connections, its TIME_WAIT, other sockets' TIME_WAIT or other sockets, the
    /// connection limit, quarantined sources, the NAT, or the wait line.
    /// </summary>
    public RefusalCause Cause { get; }

    /// <summary>
    /// When room may come by itself, from the moment of the refusal: the next port the pool
    /// charges for TIME_WAIT or a kernel refusal freeing, the NAT's next hold ending, or a
    /// quarantined source coming back. Null when only a close of a connection can bring room
    /// (<see cref="RefusalCause.ActiveConnections"/>, <see cref="RefusalCause.ConnectionLimit"/>), or
    /// when the exception was not thrown by a pool. TuplePool.Yarp sends it as the 503's <c>Retry-After</c>.
    /// </summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>True when the NAT on the path was the limit: it had no port left to any of the destination's addresses, whatever the local tuples had.</summary>
    public bool NatIsTheLimit => Nat.Count > 0 && Nat.All(static n => n.Remaining == 0);

    /// <summary>
    /// True when the acquire was refused at once because <see cref="TuplePoolOptions.MaxPendingAcquires"/>
    /// callers were already waiting for the destination; false when it waited out
    /// <see cref="TuplePoolOptions.AcquireTimeout"/>.
    /// </summary>
    public bool WaitLineFull { get; }

    /// <summary>
    /// True while no caller is known to have received this refusal: it was met in a connection
    /// attempt of a <see cref="System.Net.Http.SocketsHttpHandler"/> (<c>UseTuplePool</c>), and
    /// <c>HttpClient</c> hands such an error only to the request that started the attempt, and only
    /// if that request still waits for it; one served by another connection meanwhile never sees
    /// it. The pool counts it as a background refusal
    /// (<see cref="TuplePoolSnapshot.BackgroundRefusals"/>) until <see cref="MarkReceived"/> is
    /// called. False for a refusal <c>AcquireAsync</c> threw to its caller.
    /// </summary>
    public bool IsBackground => Volatile.Read(ref _background) == 1;

    /// <inheritdoc />
    public override string Message => _message;

    /// <summary>
    /// Reports that a caller received this refusal (a request failed with it): the pool then
    /// counts it among <see cref="TuplePoolSnapshot.RefusedAcquires"/> instead of
    /// <see cref="TuplePoolSnapshot.BackgroundRefusals"/>. <c>TuplePool.Http</c>'s
    /// <c>UseTuplePool()</c> and <c>TuplePool.Yarp</c> call it for every request that fails with it;
    /// with a bare <c>SocketsHttpHandler.UseTuplePool</c>, call it where a request's
    /// <see cref="System.Net.Http.HttpRequestException"/> carries it as its inner exception. Once
    /// per refusal; later calls, and calls on a refusal that is not <see cref="IsBackground"/>, do nothing.
    /// </summary>
    public void MarkReceived()
    {
        if (Interlocked.Exchange(ref _background, 0) == 1)
        {
            _receipts!.Received(_ticket);
        }
    }

    /// <summary>Makes the refusal a background one, counted in <paramref name="receipts"/> under <paramref name="ticket"/> until a caller is reported to receive it.</summary>
    internal void AwaitReceipt(IRefusalReceipts receipts, long ticket)
    {
        _receipts = receipts;
        _ticket = ticket;
        Volatile.Write(ref _background, 1);
    }
}
