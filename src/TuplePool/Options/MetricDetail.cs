namespace TuplePool;

/// <summary>
/// How finely the <c>TuplePool</c> meter breaks its series down
/// (<see cref="TuplePoolOptions.MetricDetail"/>). Every level keeps the pool-wide totals; each
/// level adds tags or instruments to the one before it, and with them series.
/// </summary>
public enum MetricDetail
{
    /// <summary>
    /// Only <c>tuplepool.pool.name</c> (and the few fixed-valued tags: state, reused,
    /// <c>error.type</c>): a fixed number of series per pool, however many destinations it
    /// talks to. For services with very many destinations (a crawler).
    /// </summary>
    Pool = 0,

    /// <summary>
    /// Adds <c>server.address</c> and <c>server.port</c>, the destination as the caller names it,
    /// to the acquire instruments, <c>tuplepool.connection.use_time</c> and
    /// <c>tuplepool.budget.exhausted</c>, as <c>System.Net.Http</c> does on its
    /// <c>http.client.*</c> instruments: series grow with the destinations a service talks to.
    /// </summary>
    Destination = 1,

    /// <summary>
    /// Adds the per-tuple instruments (<c>tuplepool.tuple.connection.count</c>,
    /// <c>tuplepool.tuple.time_wait</c>, <c>tuplepool.tuple.remaining</c>) and the tuple's
    /// addresses on <c>tuplepool.connect.duration</c> and <c>tuplepool.connect.errors</c>:
    /// sources × destination addresses × ports, easily tens of thousands of series. For
    /// diagnosis; <see cref="ISocketPool.GetSnapshot"/> gives the same per tuple without a metrics backend.
    /// </summary>
    Tuple = 2,
}
