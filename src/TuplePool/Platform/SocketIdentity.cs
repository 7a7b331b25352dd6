namespace TuplePool.Platform;

/// <summary>
/// What makes two reports the same socket, for dropping the repeats a table walk can produce.
/// </summary>
/// <remarks>
/// <para>
/// A connected socket is its four-tuple: the kernel's established hash never holds two sockets
/// with the same one (a TIME-WAIT socket <em>replaces</em> the connection it came from, and a new
/// connection that reuses a TIME-WAIT tuple replaces that in turn). So a connection reported
/// first as ESTABLISHED (with an inode) and again after it closed (TIME_WAIT, no inode) counts
/// once, in the state seen last. Keying by inode alone would count it twice.
/// </para>
/// <para>
/// A socket without a peer (a listener, a socket only bound) shares its four-tuple with others
/// (<c>SO_REUSEPORT</c> listeners), so it is told apart by its netlink cookie, or from
/// <c>/proc</c> by its inode; without either (never seen from the kernel) by its state.
/// </para>
/// </remarks>
internal readonly record struct SocketIdentity(UInt128 Local, UInt128 Remote, int Ports, ulong Id, byte Kind)
{
    private const byte Connected = 0;
    private const byte ByCookie = 1;
    private const byte ByInode = 2;
    private const byte ByState = 3;

    public static SocketIdentity Of(in SocketRecord record)
    {
        var ports = (record.LocalPort << 16) | record.RemotePort;
        return record.IsConnected ? new(record.LocalAddress, record.RemoteAddress, ports, 0, Connected)
            : record.Cookie != 0 ? new(record.LocalAddress, record.RemoteAddress, ports, record.Cookie, ByCookie)
            : record.Inode != 0 ? new(record.LocalAddress, record.RemoteAddress, ports, record.Inode, ByInode)
            : new(record.LocalAddress, record.RemoteAddress, ports, (ulong)record.State, ByState);
    }
}
