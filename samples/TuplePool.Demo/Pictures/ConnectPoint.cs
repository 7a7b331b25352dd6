namespace TuplePool.Demo.Pictures;

/// <summary>
/// One point of the crowded-connect curve: median connect() times, in µs, with
/// <see cref="OpenConnections"/> plain connections to the same destination already open.
/// </summary>
internal readonly record struct ConnectPoint(int OpenConnections, double PlainMicros, double FloorMicros, double PoolMicros);
