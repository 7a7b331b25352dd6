namespace TuplePool.Budget;

/// <summary>
/// What a refusal rests on besides the tuples' and the NAT's usage: facts only the pool knows
/// when it gives up (its connection limit, its oldest leases, when room may come next). The
/// public constructors of <see cref="TupleBudgetExhaustedException"/> have none of them
/// (<see cref="None"/>), so they judge by the usage alone.
/// </summary>
internal sealed record RefusalFacts
{
    /// <summary>Nothing known but the usage.</summary>
    public static RefusalFacts None { get; } = new();

    /// <summary>Set when the caller was refused at once because this many callers were already waiting (<see cref="TuplePoolOptions.MaxPendingAcquires"/>).</summary>
    public int? WaitLineLimit { get; init; }

    /// <summary>Connections open to the destination (connecting, leased or idle) when the pool gave up.</summary>
    public int OpenToDestination { get; init; }

    /// <summary><see cref="TuplePoolOptions.MaxConnectionsPerDestination"/>; <see cref="int.MaxValue"/> when unlimited.</summary>
    public int MaxConnections { get; init; } = int.MaxValue;

    /// <summary>The destination's longest-held leases, oldest first (a few).</summary>
    public IReadOnlyList<LeaseAge> OldestLeases { get; init; } = [];

    /// <summary>When room may come by itself (a charged port or a NAT hold freeing, a quarantine ending), from now; null when only a close can bring it.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>True when the connection limit, not the ports, stood in the way.</summary>
    public bool AtConnectionLimit => MaxConnections != int.MaxValue && OpenToDestination >= MaxConnections;
}

/// <summary>One lease still out: its connection (as a log shows it) and how long ago it was lent.</summary>
internal readonly record struct LeaseAge(string Connection, TimeSpan Age);
