namespace TuplePool.SocketsHttp;

/// <summary>
/// The stream <see cref="TuplePoolSocketsHttpHandlerExtensions.UseTuplePool"/> hands to
/// <see cref="System.Net.Http.SocketsHttpHandler"/>: every member goes straight to the lease's
/// stream, and disposal (once, whichever of Dispose/DisposeAsync/Close comes first) invalidates
/// and ends the lease, so the pool closes the socket with the configured
/// <see cref="TuplePoolOptions.CloseMode"/> and releases its budget.
/// </summary>
/// <remarks>
/// The socket is never returned to TuplePool's idle store: HttpClient pools HTTP connections
/// itself and only disposes one it will not use again, possibly mid-response.
/// </remarks>
internal sealed class LeaseStream : Stream
{
    private readonly Stream _inner;
    private readonly SocketLease _lease;
    private int _disposed;

    public LeaseStream(SocketLease lease)
        : this(lease, lease.Stream)
    {
    }

    /// <summary>For tests: a lease and the stream to forward to.</summary>
    internal LeaseStream(SocketLease lease, Stream inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _lease = lease;
        _inner = inner;
    }

    public override bool CanRead => _inner.CanRead;

    public override bool CanWrite => _inner.CanWrite;

    public override bool CanSeek => _inner.CanSeek;

    public override bool CanTimeout => _inner.CanTimeout;

    public override long Length => _inner.Length;

    public override long Position
    {
        get => _inner.Position;
        set => _inner.Position = value;
    }

    public override int ReadTimeout
    {
        get => _inner.ReadTimeout;
        set => _inner.ReadTimeout = value;
    }

    public override int WriteTimeout
    {
        get => _inner.WriteTimeout;
        set => _inner.WriteTimeout = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override int ReadByte() => _inner.ReadByte();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _inner.ReadAsync(buffer, cancellationToken);

    public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state)
        => _inner.BeginRead(buffer, offset, count, callback, state);

    public override int EndRead(IAsyncResult asyncResult) => _inner.EndRead(asyncResult);

    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _inner.Write(buffer);

    public override void WriteByte(byte value) => _inner.WriteByte(value);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        => _inner.WriteAsync(buffer, cancellationToken);

    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state)
        => _inner.BeginWrite(buffer, offset, count, callback, state);

    public override void EndWrite(IAsyncResult asyncResult) => _inner.EndWrite(asyncResult);

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void CopyTo(Stream destination, int bufferSize) => _inner.CopyTo(destination, bufferSize);

    public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
        => _inner.CopyToAsync(destination, bufferSize, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

    public override void SetLength(long value) => _inner.SetLength(value);

    public override ValueTask DisposeAsync()
    {
        // Ending a lease never blocks (the pool closes the socket itself), so the synchronous
        // path serves both.
        Dispose();
        return default;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                _lease.Invalidate();
            }
            catch (ObjectDisposedException)
            {
                // The lease already ended (the pool was disposed first); nothing left to close.
            }

            _lease.Dispose();
        }

        base.Dispose(disposing);
    }
}
