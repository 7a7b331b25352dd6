using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Redis;
using TuplePool.Redis.Grants;
using TuplePool.Redis.Store;

namespace TuplePool.Tests.Fleet;

/// <summary>One destination's grant on a <see cref="FakeTimeProvider"/>: what the pool sees, when, and what Redis is told.</summary>
public sealed class DestinationGrantTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly FleetContext _context;
    private readonly DestinationGrant _grant;
    private long _sequence;

    public DestinationGrantTests()
    {
        var options = new RedisFleetOptions { FleetName = "f", ExpectedInstances = 3, ChunkSize = 8, LeaseTime = TimeSpan.FromSeconds(3), WaitRetryInterval = TimeSpan.FromMilliseconds(100) };
        _context = new FleetContext(FleetShares.Of(60, options), options, TimeSpan.FromSeconds(1), _time);
        var destination = new IPEndPoint(IPAddress.Parse("198.18.0.30"), 443);
        _grant = new DestinationGrant(destination, new FleetKeys("t:", "f").For(destination));
    }

    private int Current => _grant.Current(_context.Now(), _context.Shares.StaticShare);

    private SyncPlan Begin()
    {
        var begun = _grant.BeginSync(_context, final: false, mayRequest: true, () => ++_sequence, out _, out _);
        Assert.NotNull(begun);
        return begun.Value.Plan;
    }

    private void Answer(in SyncPlan plan, int extra)
        => _grant.CompleteSync(plan, new GrantReply(GrantOutcome.Applied, plan.Keep + extra, extra, "e1", TimeSpan.Zero, 22, 0, "60", "15"), _context, out _, out _, out _);

    private void GrowTo(int held, int extra)
    {
        Assert.Equal(GrantAction.Enqueue, _grant.Report(held, 0, _context));
        Answer(Begin(), extra);
    }

    [Fact]
    public void Growth_IsSeenOnlyOnceRedisAnswered()
    {
        Assert.Equal(GrantAction.Enqueue, _grant.Report(4, 0, _context));
        var plan = Begin();
        Assert.Equal(5, Current);

        Answer(plan, extra: 8);

        Assert.Equal(13, Current);
    }

    [Fact]
    public void TheLeaseEnds_ThreeSecondsAfterTheRequestWasSent_WithoutATick()
    {
        Assert.Equal(GrantAction.Enqueue, _grant.Report(4, 0, _context));
        var plan = Begin();
        _time.Advance(TimeSpan.FromMilliseconds(500)); // Redis answers half a second later
        Answer(plan, extra: 8);

        _time.Advance(TimeSpan.FromMilliseconds(2499));
        Assert.Equal(13, Current);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(5, Current);

        Assert.Equal(GrantAction.None, _grant.Tick(_context, mayRequest: false, out var ended, out var heldBeyond));
        Assert.True(ended);
        Assert.Equal(0, heldBeyond);
    }

    [Fact]
    public void AShrink_IsSeenAtOnce_AndToldToRedisOnlyAfterTheSettleTime()
    {
        GrowTo(held: 4, extra: 40);
        Assert.Equal(45, Current);
        _grant.Report(10, 0, _context);

        // The renewal hands back all but a chunk of headroom: the pool sees 18 at once ...
        _time.Advance(TimeSpan.FromSeconds(1));
        var renewal = Begin();
        Assert.Equal(18, Current);

        // ... but Redis keeps counting 40 until the lower grant has been in force for the settle
        // time: a pool that read 45 just before may still report a port taken under it.
        Assert.Equal(40, renewal.Keep);
        Answer(renewal, extra: 0);
        Assert.Equal(GrantAction.None, _grant.Tick(_context, mayRequest: true, out _, out _));

        _time.Advance(RedisFleetDefaults.ShrinkSettleTime);
        Assert.Equal(GrantAction.Enqueue, _grant.Tick(_context, mayRequest: true, out _, out _));
        Assert.Equal(13, Begin().Keep);
    }

    [Fact]
    public void AReportWhileARequestIsInFlight_IsPlannedAgainWhenItAnswers()
    {
        Assert.Equal(GrantAction.Enqueue, _grant.Report(4, 0, _context));
        var plan = Begin();
        Assert.Equal(GrantAction.None, _grant.Report(13, 6, _context));

        _grant.CompleteSync(plan, new GrantReply(GrantOutcome.Applied, 8, 8, "e1", TimeSpan.Zero, 45, 0, "60", "15"), _context, out var changed, out var again, out _);

        Assert.True(changed);
        Assert.True(again);
        Assert.Equal(8, Begin().Want); // 13 held + 6 waiting − 13 granted = 6, plus the low water 2, in chunks of 8
    }

    [Fact]
    public void RedisHavingLessThanAsked_PausesTheNextAsk()
    {
        Assert.Equal(GrantAction.Enqueue, _grant.Report(5, 3, _context));
        Answer(Begin(), extra: 0);

        Assert.Equal(GrantAction.None, _grant.Report(5, 4, _context));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(GrantAction.Enqueue, _grant.Tick(_context, mayRequest: true, out _, out _));
    }

    [Fact]
    public void NothingHeldNothingGranted_LeavesTheMap()
    {
        GrowTo(held: 4, extra: 8);
        _grant.Report(0, 0, _context);
        _time.Advance(TimeSpan.FromSeconds(1));
        var handBack = Begin();
        Answer(handBack, extra: 0);
        _time.Advance(RedisFleetDefaults.ShrinkSettleTime);
        Assert.Equal(GrantAction.Enqueue, _grant.Tick(_context, mayRequest: true, out _, out _));
        var last = Begin();
        Assert.Equal(0, last.Keep);

        _grant.CompleteSync(last, new GrantReply(GrantOutcome.Applied, 0, 0, "e1", TimeSpan.Zero, 45, 0, "60", "15"), _context, out _, out _, out var remove);

        Assert.True(remove);
        Assert.Equal(GrantAction.Gone, _grant.Report(1, 0, _context));
    }
}
