namespace TuplePool.Budget;

/// <summary>
/// Where a background refusal (<see cref="TupleBudgetExhaustedException.IsBackground"/>) reports
/// that a caller received it after all: the pool's record of refusals, which then counts it as one
/// a caller received. Owned here so the exception needs nothing from the layers above.
/// </summary>
internal interface IRefusalReceipts
{
    /// <summary>The background refusal recorded under <paramref name="ticket"/> reached a caller.</summary>
    void Received(long ticket);
}
