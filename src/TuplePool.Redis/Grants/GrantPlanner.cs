namespace TuplePool.Redis.Grants;

/// <summary>What one destination's grant looks like when the next step is planned.</summary>
/// <param name="Held">Ports the pool holds there through the NAT (its last report).</param>
/// <param name="Waiting">Callers of the pool waiting for a port there (its last report).</param>
/// <param name="Published">Ports beyond the static share the pool may hold now (0 once the lease ended).</param>
/// <param name="Recorded">What Redis records for this instance, as of its last answer.</param>
/// <param name="RecordedWaiting">The waiting count Redis records (other instances see it as "someone waits").</param>
/// <param name="FairCap">This instance's fair share of the coordinated ports while others wait; −1 when nobody else waits.</param>
/// <param name="SafeToLower">What Redis may be lowered to now: <see cref="Published"/> once it has been in force for the settle time, else <see cref="Recorded"/>.</param>
/// <param name="RenewalDue">A third of the lease has passed since the last renewal: renew, and hand back what stays unused.</param>
/// <param name="MayAsk">Asking for more is allowed now (not within the retry pause after Redis had nothing free).</param>
/// <param name="Final">The pool is gone: hand back everything it does not hold, ask for nothing.</param>
internal readonly record struct GrantView(
    int Held,
    int Waiting,
    int Published,
    int Recorded,
    int RecordedWaiting,
    int FairCap,
    int SafeToLower,
    bool RenewalDue,
    bool MayAsk,
    bool Final);

/// <summary>The step planned for one destination.</summary>
/// <param name="Publish">The local grant beyond the static share from now on: never above <see cref="GrantView.Published"/> (a plan only lowers; growth waits for Redis).</param>
/// <param name="Base">What the grant is built on after Redis answers: <see cref="Publish"/>, or what the pool really holds beyond the static share if that is more (a lost lease re-asserted).</param>
/// <param name="Keep">What Redis is told this instance keeps: never below what it may still be using.</param>
/// <param name="Want">Ports asked for beyond <see cref="Keep"/>.</param>
/// <param name="Waiting">The waiting count sent: callers that wait because the NAT grant is used up, 0 otherwise.</param>
/// <param name="Send">Whether Redis needs to hear of it.</param>
internal readonly record struct SyncPlan(int Publish, int Base, int Keep, int Want, int Waiting, bool Send);

/// <summary>
/// The grant's rules, as pure arithmetic (no clock, no Redis), so each rule has a unit test:
/// <list type="bullet">
/// <item>Grow when callers wait beyond the grant (enough for them plus the low water, in whole
/// chunks) or, ahead of need, when fewer than <see cref="FleetShares.LowWater"/> ports are left.</item>
/// <item>Hysteresis: hand back only at a renewal and only when more than two chunks lie unused,
/// down to one chunk of headroom (or everything when nothing is held or wanted), so a grant
/// between the two marks neither grows nor shrinks.</item>
/// <item>While others wait (a fair cap is known), come down to the fair share as ports are released.</item>
/// <item>Lower the local grant first, Redis later (<see cref="GrantView.SafeToLower"/>), and never
/// tell Redis less than the pool holds beyond its static share: nothing is handed back that the
/// NAT still holds.</item>
/// </list>
/// </summary>
internal static class GrantPlanner
{
    public static SyncPlan Plan(in FleetShares shares, in GrantView view)
    {
        var excess = Math.Max(0, view.Held - shares.StaticShare);
        if (view.Final)
        {
            return new SyncPlan(view.Published, excess, excess, 0, 0, Send: view.Recorded != excess || view.RecordedWaiting != 0);
        }

        var target = view.Published;
        var unused = shares.StaticShare + view.Published - view.Held;
        if (view.FairCap >= 0 && view.Published > Math.Max(excess, view.FairCap))
        {
            target = Math.Max(excess, view.FairCap);
        }
        else if (view.RenewalDue && view.Held == 0 && view.Waiting == 0)
        {
            target = 0;
        }
        else if (view.RenewalDue && unused > 2 * shares.Chunk)
        {
            target = Math.Max(excess, view.Held + shares.Chunk - shares.StaticShare);
        }

        target = Math.Clamp(target, 0, view.Published);
        var @base = Math.Max(target, excess);
        var keep = Math.Max(@base, view.SafeToLower);

        var need = view.Held + view.Waiting - (shares.StaticShare + @base);
        var want = 0;
        if (target == view.Published && view.MayAsk)
        {
            if (need > 0)
            {
                want = RoundUp(need + shares.LowWater, shares.Chunk);
            }
            else if (shares.StaticShare + @base - view.Held < shares.LowWater)
            {
                want = shares.Chunk;
            }
        }

        want = Math.Clamp(want, 0, Math.Max(0, shares.Coordinated - keep));
        var waiting = need > 0 ? view.Waiting : 0;
        var send = want > 0
            || keep != view.Recorded
            || (view.RenewalDue && view.Recorded > 0)
            || (waiting > 0) != (view.RecordedWaiting > 0);
        return new SyncPlan(target, @base, keep, want, waiting, send);
    }

    private static int RoundUp(int value, int chunk) => (int)Math.Min(int.MaxValue, ((long)value + chunk - 1) / chunk * chunk);
}
