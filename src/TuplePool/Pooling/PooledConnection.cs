using System.Net;
using System.Net.Sockets;

namespace TuplePool.Pooling;

/// <summary>(being written)</summary>
internal sealed class PooledConnection
{
    public Socket Socket => throw new NotImplementedException();

    public Stream Stream => throw new NotImplementedException();

    public IPEndPoint LocalEndPoint => throw new NotImplementedException();

    public IPEndPoint RemoteEndPoint => throw new NotImplementedException();

    public bool IsLeasedWith(int token) => throw new NotImplementedException(token.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public void Invalidate() => throw new NotImplementedException();

    public void EndLease(int token) => throw new NotImplementedException(token.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
