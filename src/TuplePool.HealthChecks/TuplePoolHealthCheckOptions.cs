namespace TuplePool.HealthChecks;

/// <summary>When a pool's health check reports Degraded or Unhealthy, and how much it tells.</summary>
public sealed class TuplePoolHealthCheckOptions
{
    /// <summary>
    /// Degraded when a tuple uses more than this share of its port budget: ports leased out, in
    /// TIME_WAIT or held back after a kernel refusal (Capacity − Remaining − Idle &gt; share × Capacity;
    /// idle connections do not count, a caller takes one at once). Default 0.9 (90 %); above 0, at most 1.
    /// </summary>
    public double BudgetThreshold { get; set; } = 0.9;

    /// <summary>
    /// Unhealthy while a caller received a refusal (<see cref="TupleBudgetExhaustedException"/>, or a
    /// wait for room it cancelled) within this window, Degraded while only background refusals came
    /// in it (connection attempts of <c>SocketsHttpHandler</c> no request was reported to receive,
    /// <see cref="TuplePoolSnapshot.BackgroundRefusals"/>): the pool's
    /// <see cref="TuplePoolSnapshot.LastRefusal"/> and <see cref="TuplePoolSnapshot.LastBackgroundRefusal"/>
    /// are compared with the container's <see cref="TimeProvider"/> (the clock <c>AddTuplePool</c>
    /// gives the pool too). Default 30 s; positive.
    /// </summary>
    public TimeSpan RefusalWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many of the busiest tuples the result's data lists. Default 5; 0 lists none.</summary>
    public int BusiestTuples { get; set; } = 5;

    internal void Validate()
    {
        if (!(BudgetThreshold > 0 && BudgetThreshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(BudgetThreshold), BudgetThreshold, "BudgetThreshold is a share of the budget: above 0 and at most 1 (0.9 = 90 %).");
        }

        if (RefusalWindow <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RefusalWindow), RefusalWindow, "RefusalWindow must be positive.");
        }

        if (BusiestTuples < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BusiestTuples), BusiestTuples, "BusiestTuples must be 0 or more.");
        }
    }

    internal TuplePoolHealthCheckOptions Copy() => new()
    {
        BudgetThreshold = BudgetThreshold,
        RefusalWindow = RefusalWindow,
        BusiestTuples = BusiestTuples,
    };
}
