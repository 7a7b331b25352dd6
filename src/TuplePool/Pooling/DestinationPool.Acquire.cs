using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using TuplePool.Internal;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// The slow path of an acquire: no idle connection was there for the taking, so the caller lends
/// one handed to it, takes one from the idle store, opens a new one, or waits in line — in small
/// steps over one explicit state (<see cref="AcquireState"/>). The wake protocol the steps follow
/// is in <c>docs/ARCHITECTURE.md</c> and on <see cref="DestinationPool"/>.
/// </summary>
internal sealed partial class DestinationPool
{
    /// <summary>What woke a caller last, and so what it holds that belongs to the line if it leaves.</summary>
    private enum HeldWake
    {
        /// <summary>Nothing: a newcomer, or a caller that spent its wake.</summary>
        None,

        /// <summary>Woken to try again: room may be there. Passed on if unused.</summary>
        Room,

        /// <summary>A returned connection was handed over (<see cref="AcquireState.Handed"/>).</summary>
        Connection,
    }

    /// <summary>
    /// The slow path, bounded by <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>
    /// for none): no acquire outlives it, waiting and connecting included.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SocketLease> AcquireSlowAsync(TimeSpan timeout, AcquirePurpose purpose, CancellationToken cancellationToken)
    {
        if (!TryEnter())
        {
            return await _owner.AcquireAgainAsync(this, timeout, purpose, cancellationToken).ConfigureAwait(false);
        }

        var state = new AcquireState(DeadlineAfter(timeout), purpose);
        try
        {
            while (true)
            {
                ThrowIfOver(ref state, cancellationToken);
                if (TryLendHanded(ref state, out var lease) || TryLendIdle(ref state, out lease))
                {
                    return lease;
                }

                if (MayTakeRoom(in state) && TryTakeOpenSlot())
                {
                    PooledConnection? opened;
                    IReadOnlyList<IPEndPoint>? addresses;
                    try
                    {
                        (opened, addresses) = await OpenInSlotAsync(state.Deadline, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut && state.WaitStarted != 0 && IsPast(state.Deadline))
                    {
                        // The caller waited for room and the acquire's deadline cut the connect it
                        // finally got room for: what it ran out of is the budget's time.
                        state.Wake = HeldWake.None;
                        RecordWaitEnded(state.WaitStarted);
                        throw Refused(state.Addresses ?? _resolver.Current, state.Purpose);
                    }

                    state.Addresses = addresses;
                    if (opened is not null)
                    {
                        return Lend(opened, isReused: false, ref state);
                    }

                    // No room anywhere. The wake is not passed on (the next waiter would only fail
                    // the same way); the caller keeps its turn at the front of the line.
                }

                BeginWait(ref state);
                (state.Wake, state.Handed) = await WaitInLineAsync(state.Deadline, state.Wake != HeldWake.None, state.Addresses, state.WaitStarted, state.Purpose, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            PassOnWhatIsHeld(ref state);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>The timestamp an acquire given <paramref name="timeout"/> from now must end by; <see cref="long.MaxValue"/> for none.</summary>
    private long DeadlineAfter(TimeSpan timeout)
    {
        var time = _settings.TimeProvider;
        return timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : time.GetTimestamp() + Timestamps.ToTicks(timeout, time);
    }

    private bool IsPast(long deadline) => _settings.TimeProvider.GetTimestamp() >= deadline;

    /// <summary>Disposal and cancellation end the acquire before anything else is tried.</summary>
    private void ThrowIfOver(ref AcquireState state, CancellationToken cancellationToken)
    {
        if (_owner.IsDisposed)
        {
            ThrowHelper.ThrowPoolDisposed(); // what is held goes in PassOnWhatIsHeld: closed, since the pool is gone
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>A connection handed by a return is lent at once; one that died meanwhile is closed, and the caller tries on as one woken.</summary>
    private bool TryLendHanded(ref AcquireState state, out SocketLease lease)
    {
        if (state.Handed is not { } handed)
        {
            lease = default;
            return false;
        }

        state.Handed = null;
        if (CanLend(handed))
        {
            state.Wake = HeldWake.None; // the returner looked at the line itself
            lease = Lend(handed, isReused: true, ref state);
            return true;
        }

        Close(handed); // that close wakes the next waiter; this one tries on, holding no wake to pass
        state.Wake = HeldWake.Connection;
        lease = default;
        return false;
    }

    /// <summary>Newcomers queue behind waiters; a caller just woken has its turn now.</summary>
    private bool MayTakeRoom(in AcquireState state) => state.Wake != HeldWake.None || _waiters.Count == 0;

    private bool TryLendIdle(ref AcquireState state, out SocketLease lease)
    {
        if (MayTakeRoom(in state))
        {
            while (_idle.TryPop(out var idle))
            {
                if (CanLend(idle!))
                {
                    lease = Lend(idle!, isReused: true, ref state);
                    return true;
                }

                Close(idle!);
            }
        }

        lease = default;
        return false;
    }

    /// <summary>
    /// In an open slot already taken: resolves the destination and opens a connection; null (the
    /// slot given back) when no tuple has room. On an error the slot is given back and the next
    /// waiter woken — the slot is free again — and the error goes to the caller.
    /// </summary>
    private async ValueTask<(PooledConnection? Opened, IReadOnlyList<IPEndPoint>? Addresses)> OpenInSlotAsync(long deadline, CancellationToken cancellationToken)
    {
        IReadOnlyList<IPEndPoint>? addresses = null;
        try
        {
            addresses = await _resolver.ResolveAsync(cancellationToken).ConfigureAwait(false);
            ThrowIfNoSourceFor(addresses);
            var opened = await OpenAsync(addresses, deadline, cancellationToken).ConfigureAwait(false);
            if (opened is null)
            {
                ReleaseOpenSlot();
            }

            return (opened, addresses);
        }
        catch
        {
            ReleaseOpenSlot();
            _waiters.WakeOne();
            throw;
        }
    }

    /// <summary>Nothing to lend and no room: past the deadline that is the typed refusal, else a wait begins (its start is kept for the wait-duration histogram).</summary>
    private void BeginWait(ref AcquireState state)
    {
        var now = _settings.TimeProvider.GetTimestamp();
        if (now >= state.Deadline)
        {
            state.Wake = HeldWake.None; // no room was found: the next in line would find none either
            RecordWaitEnded(state.WaitStarted);
            throw Refused(state.Addresses ?? _resolver.Current, state.Purpose);
        }

        if (state.WaitStarted == 0)
        {
            state.WaitStarted = now;
        }
    }

    /// <summary>
    /// Joins the line (at the front when the caller was woken and found nothing: it keeps its
    /// turn), looks again (rule 2 of the wake protocol), and sleeps until woken. Returns what woke
    /// it and the connection handed over, if any; throws when the deadline passed (the typed
    /// refusal), the caller cancelled, or the pool was disposed.
    /// </summary>
    private async ValueTask<(HeldWake Wake, PooledConnection? Handed)> WaitInLineAsync(
        long deadline, bool atFront, IReadOnlyList<IPEndPoint>? addresses, long waitStarted, AcquirePurpose purpose, CancellationToken cancellationToken)
    {
        var current = addresses ?? _resolver.Current;
        var waiter = _context.Waiters.Get();
        using var span = TuplePoolTracing.StartWait(_metrics); // null unless the TuplePool source is listened to
        try
        {
            var ticket = waiter.Prepare();
            if (!_waiters.TryEnqueue(waiter, ticket, atFront, _settings.MaxPendingAcquires))
            {
                throw WaitLineFull(current, purpose);
            }

            if (_owner.IsDisposed && _waiters.TryRemove(waiter))
            {
                ThrowHelper.ThrowPoolDisposed(); // disposal failed the line just before we joined it
            }

            waiter.Arm(deadline, cancellationToken);
            _context.Tuples.Watch(this, current); // closes on other destinations to these addresses wake us too

            // Rule 2: in line first, then the second look.
            if (_idle.Count > 0 || HasRoom(current))
            {
                _waiters.WakeOne();
            }
            else
            {
                ArmExpiryTimer(current);
            }

            var reason = await waiter.WaitAsync().ConfigureAwait(false);
            var handed = waiter.TakeConnection();
            TuplePoolTracing.Woken(span, handed is not null);
            Debug.Assert(handed is null || reason == WakeReason.Connection, "Only a Connection wake hands a connection over.");
            switch (reason)
            {
                case WakeReason.Connection:
                    return (HeldWake.Connection, handed);
                case WakeReason.Room:
                    return (HeldWake.Room, handed);
                case WakeReason.TimedOut:
                    // Only a Connection wake hands a connection over; the others come with none.
                    _waiters.TryRemove(waiter);
                    RecordWaitEnded(waitStarted);
                    throw Refused(addresses ?? _resolver.Current, purpose);
                case WakeReason.Canceled:
                    _waiters.TryRemove(waiter);
                    RecordWaitEnded(waitStarted);
                    throw GaveUpWaiting(addresses ?? _resolver.Current, purpose, cancellationToken);
                default:
                    _waiters.TryRemove(waiter);
                    ThrowHelper.ThrowPoolDisposed();
                    return default;
            }
        }
        catch (Exception e)
        {
            TuplePoolTracing.WaitFailed(span, e);
            throw;
        }
        finally
        {
            // Left on an error before the wait ended: out of line, and a connection handed meanwhile goes back.
            _waiters.TryRemove(waiter);
            if (waiter.Release() is { } left)
            {
                Return(left);
            }

            _context.Waiters.Return(waiter);
            if (_waiters.Count == 0)
            {
                _context.Tuples.UnwatchIfIdle(this, current);
            }
        }
    }

    /// <summary>
    /// The one place a caller leaving with an error gives back what it holds: a handed connection
    /// goes to the next waiter or the idle store (closed when the pool is gone), a wake to try
    /// again goes to the next in line.
    /// </summary>
    private void PassOnWhatIsHeld(ref AcquireState state)
    {
        if (state.Handed is { } handed)
        {
            state.Handed = null;
            Return(handed); // GiveBack closes it when the pool is disposed
        }
        else if (state.Wake == HeldWake.Room)
        {
            _waiters.WakeOne();
        }

        state.Wake = HeldWake.None;
    }

    /// <summary>
    /// Makes the lease, then does what may throw (a metrics listener is user code): should it
    /// throw, the lease is given back rather than lost. A caller woken to try again that got its
    /// connection passes the wake on when room is left (one event can free room for several).
    /// </summary>
    private SocketLease Lend(PooledConnection connection, bool isReused, ref AcquireState state)
    {
        connection.LeasedSince = LeaseClock();
        if (_metrics.UseTimeEnabled)
        {
            connection.LentAt = _settings.Now();
        }

        var lease = new SocketLease(connection, connection.BeginLease(), isReused);
        if (state.Wake == HeldWake.Room)
        {
            PassWakeOn(state.Addresses ?? _resolver.Current);
        }

        state.Wake = HeldWake.None;
        try
        {
            RecordWaitEnded(state.WaitStarted);
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        return lease;
    }

    /// <summary>A wait (for a connection or room) that began at <paramref name="waitStarted"/> ended, either way.</summary>
    private void RecordWaitEnded(long waitStarted)
    {
        if (waitStarted != 0)
        {
            _metrics.RecordWait(_settings.TimeProvider.GetElapsedTime(waitStarted));
        }
    }

    private void ThrowIfNoSourceFor(IReadOnlyList<IPEndPoint> addresses)
    {
        for (var i = 0; i < addresses.Count; i++)
        {
            if (_context.Tuples.HasSourceFor(addresses[i].AddressFamily))
            {
                return;
            }
        }

        // Waiting cannot help: no configured source has the destination's family. A configuration error.
        throw AcquireErrors.NoSourceForFamily(Key, addresses.Select(a => a.Address).ToList());
    }

    /// <summary>Opens a connection (within <paramref name="deadline"/>) and makes it the pool's; null when no tuple has room.</summary>
    private async ValueTask<PooledConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, long deadline, CancellationToken cancellationToken)
    {
        var opened = await _context.Opener.OpenAsync(addresses, _pipeline, deadline, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return null;
        }

        if (_owner.IsDisposed)
        {
            opened.Dispose();
            ThrowHelper.ThrowPoolDisposed();
        }

        if (opened.TakeOver() is not { } socket)
        {
            // Disposed by the user's strategies after they handed it back: it cannot be lent.
            throw new ObjectDisposedException("connection", "The connection was closed by a strategy of TuplePoolOptions.ConfigureConnectPipeline after it was opened.");
        }

        var connection = new PooledConnection(socket, opened.Charge, this, _settings.TimeProvider.GetTimestamp())
        {
            IdleTimeoutTicks = opened.Charge.Nat is null ? _settings.IdleTimeoutTicks : Math.Min(_settings.IdleTimeoutTicks, _settings.NatIdleTimeoutTicks),
        };
        _connections.Add(connection);
        return connection;
    }

    /// <summary>One caller's way through the slow path.</summary>
    private struct AcquireState(long deadline, AcquirePurpose purpose)
    {
        /// <summary>When the acquire must be done by (a timestamp; <see cref="long.MaxValue"/> for never).</summary>
        public readonly long Deadline = deadline;

        /// <summary>Who waits for the lease, and so who sees a refusal.</summary>
        public readonly AcquirePurpose Purpose = purpose;

        /// <summary>When the caller first joined the line; 0 while it has not.</summary>
        public long WaitStarted;

        /// <summary>The addresses this caller resolved; null before it did (the last known ones are used).</summary>
        public IReadOnlyList<IPEndPoint>? Addresses;

        /// <summary>A connection a return handed to it: its to lend, or to give back when it leaves.</summary>
        public PooledConnection? Handed;

        /// <summary>What woke it last.</summary>
        public HeldWake Wake;
    }
}
