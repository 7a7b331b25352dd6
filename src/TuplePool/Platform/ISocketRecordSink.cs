namespace TuplePool.Platform;

/// <summary>
/// Where a census parser puts the sockets it reads: implemented by small structs (a counter, a
/// table), passed by reference into generic methods, so a pass allocates nothing per socket.
/// </summary>
internal interface ISocketRecordSink
{
    void Add(in SocketRecord record);

    /// <summary>Forgets everything added: the pass starts again (after a reply that did not fit).</summary>
    void Reset();
}
