using TuplePool.Redis;
using TuplePool.Redis.Grants;

namespace TuplePool.Tests.Fleet;

/// <summary>The grant's rules as arithmetic: capacity 60, static share 5, 45 through Redis, chunks of 8, low water 2.</summary>
public sealed class GrantPlannerTests
{
    private static readonly FleetShares Shares = FleetShares.Of(60, new RedisFleetOptions { FleetName = "f", ExpectedInstances = 3, ChunkSize = 8 });

    private static SyncPlan Plan(int held, int published = 0, int waiting = 0, int? recorded = null, int recordedWaiting = 0, int fairCap = -1, int? safe = null, bool renewal = false, bool mayAsk = true, bool final = false)
        => GrantPlanner.Plan(Shares, new GrantView(held, waiting, published, recorded ?? published, recordedWaiting, fairCap, safe ?? recorded ?? published, renewal, mayAsk, final));

    [Fact]
    public void CallersWaitingBeyondTheGrant_AreAskedForWithTheLowWater_InWholeChunks()
    {
        var plan = Plan(held: 5, waiting: 10);

        Assert.Equal((0, 16, 10, true), (plan.Keep, plan.Want, plan.Waiting, plan.Send));
    }

    [Fact]
    public void FewerThanTheLowWaterLeft_AsksForOneChunkAhead_WithoutWaiters()
    {
        var plan = Plan(held: 4);

        Assert.Equal((8, 0, true), (plan.Want, plan.Waiting, plan.Send));
    }

    [Fact]
    public void WellWithinTheStaticShare_AsksNothing()
        => Assert.False(Plan(held: 2).Send);

    [Fact]
    public void BetweenTheMarks_ARenewalOnlyRenews()
    {
        var plan = Plan(held: 20, published: 24, renewal: true);

        Assert.Equal((24, 24, 0, true), (plan.Publish, plan.Keep, plan.Want, plan.Send));
        Assert.False(Plan(held: 20, published: 24).Send);
    }

    [Fact]
    public void MoreThanTwoChunksUnused_ARenewalKeepsOneChunkOfHeadroom()
    {
        var plan = Plan(held: 10, published: 40, renewal: true);

        Assert.Equal(13, plan.Publish); // 10 held + 8 headroom − 5 static
        Assert.Equal(40, plan.Keep);    // Redis hears of it once the lower grant has settled
        Assert.Equal(40, Plan(held: 10, published: 40).Publish); // not between renewals
    }

    [Fact]
    public void NothingHeldOrWanted_ARenewalHandsBackEverything()
        => Assert.Equal(0, Plan(held: 0, published: 8, renewal: true).Publish);

    [Fact]
    public void OthersWaiting_AboveTheFairShare_ComesDownAsPortsFree_NeverBelowWhatIsHeld()
    {
        Assert.Equal(25, Plan(held: 30, published: 40, fairCap: 22).Publish);
        Assert.Equal(22, Plan(held: 20, published: 40, fairCap: 22).Publish);
        Assert.Equal(0, Plan(held: 30, published: 40, fairCap: 22).Want);
    }

    [Fact]
    public void ALowerGrant_ReachesRedisOnlyOnceSettled()
    {
        Assert.Equal((40, false), (Plan(held: 10, published: 13, recorded: 40, safe: 40).Keep, Plan(held: 10, published: 13, recorded: 40, safe: 40).Send));
        var settled = Plan(held: 10, published: 13, recorded: 40, safe: 13);
        Assert.Equal((13, true), (settled.Keep, settled.Send));
    }

    [Fact]
    public void RedisIsNeverToldLessThanTheNatHoldsBeyondTheStaticShare()
    {
        // The lease ended (published 0) while 25 are held: 20 of them are re-asserted.
        var plan = Plan(held: 25, published: 0, recorded: 30, safe: 0);

        Assert.Equal((20, 20), (plan.Base, plan.Keep));
    }

    [Fact]
    public void Final_HandsBackAllButWhatIsHeld_AndAsksNothing()
    {
        var plan = Plan(held: 12, published: 30, waiting: 4, final: true);

        Assert.Equal((7, 0, 0, true), (plan.Keep, plan.Want, plan.Waiting, plan.Send));
        Assert.False(Plan(held: 3, final: true).Send);
    }

    [Fact]
    public void InTheRetryPause_NothingIsAsked_ButTheWaitersAreToldOnce()
    {
        var first = Plan(held: 5, waiting: 3, mayAsk: false);
        Assert.Equal((0, 3, true), (first.Want, first.Waiting, first.Send));
        Assert.False(Plan(held: 5, waiting: 3, recordedWaiting: 3, mayAsk: false).Send);
    }

    [Fact]
    public void NoMoreIsAskedThanTheCoordinatedCapacity()
        => Assert.Equal(0, Plan(held: 50, published: 45, waiting: 10).Want);
}
