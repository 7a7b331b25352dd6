using System.Diagnostics;
using System.Net;
using TuplePool.Redis.Store;

namespace TuplePool.Redis.Grants;

/// <summary>What the budget should do after a grant was touched.</summary>
internal enum GrantAction
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>Queue it for a sync with Redis (it is marked queued).</summary>
    Enqueue,

    /// <summary>It holds and wants nothing any more: take it out of the map (it is marked removed).</summary>
    Remove,

    /// <summary>The caller's reference was removed meanwhile: look the destination up again.</summary>
    Gone,
}

/// <summary>
/// One destination's grant on this instance: what the pool holds and waits for, what Redis
/// records for the instance, and the part beyond the static share the pool may use now.
/// </summary>
/// <remarks>
/// <para><b>Two numbers, one direction each.</b> <c>_recorded</c> is what Redis counts for this
/// instance; <c>_published</c> (with <c>_leaseEnd</c>) is what <see cref="Current"/> lets the pool
/// use. The rule that keeps the fleet within the NAT's capacity is published ≤ recorded: growth
/// is published only after Redis answered, and a shrink is published locally first and told to
/// Redis later.</para>
/// <para><b>Why later.</b> The pool reads the grant and then reports the port it took; the two
/// are not one step. Thread A (pool) reads a grant of 40 and, holding 39, takes a port; thread B
/// (budget) lowers the grant to 39 and reads "held 39"; A reports 40 after B read. Had B told
/// Redis 39 at once, another instance could be granted the port A holds. So B tells Redis the
/// lower number only once it has been published for <see cref="RedisFleetDefaults.ShrinkSettleTime"/>
/// (<see cref="GrantView.SafeToLower"/>), and never less than the last report of what is held.</para>
/// <para><b>The lease.</b> <c>_leaseEnd</c> is measured from when the renewing request was sent
/// (so it ends before Redis's record, which runs from when Redis ran the request and lasts
/// <c>LeaseTime + HoldAfterClose</c>). Past it, <see cref="Current"/> gives the static share alone,
/// with no timer needed; the next tick also zeroes <c>_published</c> and tells the pool.</para>
/// <para>Everything but the two published fields is guarded by <c>_lock</c>; one sync per
/// destination is in flight at a time (<c>_inFlight</c>), and what changed meanwhile marks it dirty
/// for another round.</para>
/// </remarks>
internal sealed class DestinationGrant(IPEndPoint destination, GrantKeys keys)
{
    private readonly object _lock = new();

    // Read without the lock by Current: _published first, then _leaseEnd. Growth writes _leaseEnd
    // first, a shrink writes _published first, so a reader never pairs a grown number with a lease
    // that does not cover it.
    private int _published;
    private long _leaseEnd;

    private int _held;
    private int _waiting;
    private int _recorded;
    private int _recordedWaiting;
    private int _fairCap = -1;
    private long _shrunkAt;
    private long _renewAt;
    private long _retryAt;
    private long _sentAt;
    private bool _queued;
    private bool _inFlight;
    private bool _dirty;
    private bool _removed;

    /// <summary>The destination, a copy owned by the budget.</summary>
    public IPEndPoint Destination { get; } = destination;

    public GrantKeys Keys { get; } = keys;

    /// <summary>Ports the pool may hold to the destination now.</summary>
    public int Current(long now, int staticShare)
    {
        var published = Volatile.Read(ref _published);
        return now < Volatile.Read(ref _leaseEnd) ? staticShare + published : staticShare;
    }

    /// <summary>The part beyond the static share in force now (for the metrics).</summary>
    public int Published(long now) => now < Volatile.Read(ref _leaseEnd) ? Volatile.Read(ref _published) : 0;

    /// <summary>Whether a destination with these numbers needs a grant object at all: below the static share less the low water it has nothing to coordinate.</summary>
    public static bool Needed(in FleetShares shares, int held, int waiting) => (long)held + waiting + shares.LowWater > shares.StaticShare;

    /// <summary>The pool's report.</summary>
    public GrantAction Report(int held, int waiting, FleetContext context)
    {
        lock (_lock)
        {
            if (_removed)
            {
                return GrantAction.Gone;
            }

            _held = held;
            _waiting = waiting;
            var now = context.Now();
            if (IdleLocked(now, context))
            {
                _removed = true;
                return GrantAction.Remove;
            }

            if (_inFlight)
            {
                _dirty = true;
                return GrantAction.None;
            }

            return EnqueueIfNeededLocked(now, context, renewalDue: false);
        }
    }

    /// <summary>
    /// The periodic look: ends a lapsed lease (<paramref name="leaseEnded"/>, with the ports held
    /// beyond the static share in <paramref name="heldBeyond"/>), and queues a renewal, a retry or a
    /// settled hand-back when <paramref name="mayRequest"/>.
    /// </summary>
    public GrantAction Tick(FleetContext context, bool mayRequest, out bool leaseEnded, out int heldBeyond)
    {
        lock (_lock)
        {
            var now = context.Now();
            leaseEnded = false;
            heldBeyond = 0;
            if (_removed)
            {
                return GrantAction.None;
            }

            if (_published > 0 && now >= _leaseEnd)
            {
                Volatile.Write(ref _published, 0);
                _shrunkAt = Math.Max(_shrunkAt, _leaseEnd);
                leaseEnded = true;
                heldBeyond = Math.Max(0, _held - context.Shares.StaticShare);
            }

            if (IdleLocked(now, context))
            {
                _removed = true;
                return GrantAction.Remove;
            }

            if (!mayRequest || _inFlight || _queued)
            {
                return GrantAction.None;
            }

            return EnqueueIfNeededLocked(now, context, renewalDue: now >= _renewAt);
        }
    }

    /// <summary>Queues the grant when a sync is due (after a sync that left work, or one that failed).</summary>
    public GrantAction Poke(FleetContext context)
    {
        lock (_lock)
        {
            if (_removed || _inFlight)
            {
                return GrantAction.None;
            }

            var now = context.Now();
            return EnqueueIfNeededLocked(now, context, renewalDue: now >= _renewAt);
        }
    }

    /// <summary>Forces a renewal at the next sync (Redis lost its keys, or came back).</summary>
    public GrantAction RenewSoon(FleetContext context)
    {
        lock (_lock)
        {
            _renewAt = 0;
            _retryAt = 0;
            if (_removed || _inFlight || _queued)
            {
                _dirty |= _inFlight;
                return GrantAction.None;
            }

            return EnqueueIfNeededLocked(context.Now(), context, renewalDue: true);
        }
    }

    /// <summary>
    /// Plans the next request and publishes its local part (a lower grant) at once; null when Redis
    /// need not hear of it now. <paramref name="lowered"/> says the grant went down.
    /// </summary>
    public (SyncPlan Plan, long Sequence)? BeginSync(FleetContext context, bool final, bool mayRequest, Func<long> nextSequence, out bool lowered, out bool remove)
    {
        lock (_lock)
        {
            _queued = false;
            lowered = false;
            remove = false;
            if (_removed)
            {
                return null;
            }

            if (_inFlight)
            {
                _dirty = true;
                return null;
            }

            var now = context.Now();
            var published = PublishedLocked(now);
            var plan = GrantPlanner.Plan(context.Shares, ViewLocked(now, context, renewalDue: final || now >= _renewAt, final));
            if (plan.Publish < published)
            {
                Volatile.Write(ref _published, plan.Publish);
                _shrunkAt = now;
                lowered = true;
            }

            if (!plan.Send || !mayRequest)
            {
                if (!final && IdleLocked(now, context))
                {
                    _removed = true;
                    remove = true;
                }

                return null;
            }

            _inFlight = true;
            _sentAt = now;
            return (plan, nextSequence());
        }
    }

    /// <summary>Takes Redis's answer. <paramref name="changed"/>: the grant the pool sees moved; <paramref name="again"/>: plan once more now.</summary>
    public void CompleteSync(in SyncPlan plan, in GrantReply reply, FleetContext context, out bool changed, out bool again, out bool remove)
    {
        lock (_lock)
        {
            Debug.Assert(_inFlight, "a sync completes only after it began");
            _inFlight = false;
            var now = context.Now();
            var before = PublishedLocked(now);
            if (reply.Outcome == GrantOutcome.Applied)
            {
                _recorded = reply.Grant;
                _recordedWaiting = plan.Waiting;
                var published = Math.Min(reply.Grant, plan.Base + reply.Extra);
                var leaseEnd = _sentAt + context.LeaseTicks;
                if (published >= _published)
                {
                    Volatile.Write(ref _leaseEnd, leaseEnd);
                    Volatile.Write(ref _published, published);
                }
                else
                {
                    Volatile.Write(ref _published, published);
                    Volatile.Write(ref _leaseEnd, leaseEnd);
                }

                _renewAt = _sentAt + context.RenewTicks;
                _fairCap = reply.OthersWaiting > 0 ? reply.FairShare : -1;
                // Redis had less than asked: ask again only after the retry pause, whether callers
                // wait (they are retried then) or not (a full grant must not ask at every report).
                _retryAt = reply.Extra < plan.Want ? now + context.RetryTicks : 0;
            }
            else if (reply.Outcome == GrantOutcome.Misconfigured)
            {
                // Redis refused this instance's numbers: only the static share is safe.
                Volatile.Write(ref _published, 0);
                _shrunkAt = now;
                _retryAt = now + context.RetryTicks;
            }

            var after = PublishedLocked(now);
            changed = after != before;
            var excess = Math.Max(0, _held - context.Shares.StaticShare);
            again = _dirty || (_fairCap >= 0 && after > Math.Max(excess, _fairCap));
            _dirty = false;
            remove = IdleLocked(now, context);
            _removed |= remove;
        }
    }

    /// <summary>The request failed (Redis unreachable or too slow): the grant stays as it was until its lease ends.</summary>
    public void FailSync(FleetContext context, out bool again)
    {
        lock (_lock)
        {
            _inFlight = false;
            _retryAt = context.Now() + context.RetryTicks;
            again = _dirty;
            _dirty = false;
        }
    }

    private GrantAction EnqueueIfNeededLocked(long now, FleetContext context, bool renewalDue)
    {
        if (_queued)
        {
            return GrantAction.None;
        }

        var plan = GrantPlanner.Plan(context.Shares, ViewLocked(now, context, renewalDue, final: false));
        if (plan.Send || plan.Publish < PublishedLocked(now))
        {
            _queued = true;
            return GrantAction.Enqueue;
        }

        return GrantAction.None;
    }

    private GrantView ViewLocked(long now, FleetContext context, bool renewalDue, bool final)
    {
        var published = PublishedLocked(now);
        var lastLowered = now >= _leaseEnd ? Math.Max(_shrunkAt, _leaseEnd) : _shrunkAt;
        var safe = published < _recorded && now - lastLowered < context.SettleTicks ? _recorded : published;
        return new GrantView(
            _held,
            _waiting,
            published,
            _recorded,
            _recordedWaiting,
            _fairCap,
            final ? 0 : safe,
            renewalDue,
            MayAsk: now >= _retryAt,
            final);
    }

    private int PublishedLocked(long now) => now < _leaseEnd ? _published : 0;

    private bool IdleLocked(long now, FleetContext context)
        => !_inFlight && !_queued && _recorded == 0 && _recordedWaiting == 0 && PublishedLocked(now) == 0
            && !Needed(context.Shares, _held, _waiting);
}
