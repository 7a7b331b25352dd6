namespace TuplePool.Redis.Store;

/// <summary>One call of <see cref="GrantScript"/> for one destination.</summary>
/// <param name="Keep">Ports this instance keeps (what it may still be using).</param>
/// <param name="Want">Ports it asks for beyond <paramref name="Keep"/>.</param>
/// <param name="Waiting">Its callers waiting because the grant is used up.</param>
/// <param name="Sequence">Increases with every request of this instance, so Redis can ignore one that arrives late.</param>
internal readonly record struct GrantRequest(int Keep, int Want, int Waiting, long Sequence);

/// <summary>What the script did.</summary>
internal enum GrantOutcome
{
    /// <summary>Applied: <see cref="GrantReply.Grant"/> is what Redis now records for this instance.</summary>
    Applied = 0,

    /// <summary>Refused: the fleet's capacity or reserved shares in Redis differ from this instance's.</summary>
    Misconfigured = 1,

    /// <summary>Ignored: Redis has a later request of this instance.</summary>
    Stale = 2,
}

/// <summary>The script's answer.</summary>
/// <param name="Outcome">Whether it was applied.</param>
/// <param name="Grant">Ports Redis records for this instance now.</param>
/// <param name="Extra">Of those, granted by this request.</param>
/// <param name="Epoch">The bucket's epoch: a new one means Redis lost the fleet's keys.</param>
/// <param name="Recovering">Time left of the bucket's recovery window (no new grants); zero when none.</param>
/// <param name="FairShare">Coordinated capacity ÷ instances holding or wanting ports there.</param>
/// <param name="OthersWaiting">Other instances with callers waiting there.</param>
/// <param name="FleetCapacity">The capacity the fleet's epoch records (for the misconfiguration message).</param>
/// <param name="FleetReserved">The reserved static shares the fleet's epoch records.</param>
internal readonly record struct GrantReply(
    GrantOutcome Outcome,
    int Grant,
    int Extra,
    string Epoch,
    TimeSpan Recovering,
    int FairShare,
    int OthersWaiting,
    string FleetCapacity,
    string FleetReserved);
