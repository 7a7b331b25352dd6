namespace TuplePool;

/// <summary>How a new connection picks among the configured source addresses.</summary>
public enum SourceSelectionMode
{
    /// <summary>The source with the most remaining budget to the destination (the default).</summary>
    MostRemaining = 0,

    /// <summary>Each source in turn, skipping sources without room.</summary>
    RoundRobin = 1,
}
