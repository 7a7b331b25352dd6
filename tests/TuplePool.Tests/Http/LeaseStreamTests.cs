using TuplePool.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using TuplePool.SocketsHttp;

namespace TuplePool.Tests.Http;

public sealed class LeaseStreamTests
{
    /// <summary>Records which member of the inner stream each call reached.</summary>
    private sealed class RecordingStream : Stream
    {
        public List<string> Calls { get; } = [];

        public bool Disposed { get; private set; }

        public override bool CanRead { get { Calls.Add(nameof(CanRead)); return true; } }

        public override bool CanWrite { get { Calls.Add(nameof(CanWrite)); return true; } }

        public override bool CanSeek { get { Calls.Add(nameof(CanSeek)); return false; } }

        public override bool CanTimeout { get { Calls.Add(nameof(CanTimeout)); return true; } }

        public override int ReadTimeout { get { Calls.Add("get_ReadTimeout"); return 11; } set => Calls.Add("set_ReadTimeout:" + value); }

        public override int WriteTimeout { get { Calls.Add("get_WriteTimeout"); return 12; } set => Calls.Add("set_WriteTimeout:" + value); }

        public override long Length => throw new NotSupportedException(nameof(Length));

        public override long Position { get => throw new NotSupportedException("get_Position"); set => throw new NotSupportedException("set_Position"); }

        public override int Read(byte[] buffer, int offset, int count) { Calls.Add("Read(byte[])"); return 1; }

        public override int Read(Span<byte> buffer) { Calls.Add("Read(Span)"); return 2; }

        public override int ReadByte() { Calls.Add(nameof(ReadByte)); return 3; }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) { Calls.Add("ReadAsync(byte[])"); return Task.FromResult(4); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) { Calls.Add("ReadAsync(Memory)"); return new(5); }

        public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) { Calls.Add(nameof(BeginRead)); return Task.FromResult(6); }

        public override int EndRead(IAsyncResult asyncResult) { Calls.Add(nameof(EndRead)); return ((Task<int>)asyncResult).Result; }

        public override void Write(byte[] buffer, int offset, int count) => Calls.Add("Write(byte[])");

        public override void Write(ReadOnlySpan<byte> buffer) => Calls.Add("Write(Span)");

        public override void WriteByte(byte value) => Calls.Add(nameof(WriteByte));

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) { Calls.Add("WriteAsync(byte[])"); return Task.CompletedTask; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) { Calls.Add("WriteAsync(Memory)"); return default; }

        public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) { Calls.Add(nameof(BeginWrite)); return Task.CompletedTask; }

        public override void EndWrite(IAsyncResult asyncResult) => Calls.Add(nameof(EndWrite));

        public override void Flush() => Calls.Add(nameof(Flush));

        public override Task FlushAsync(CancellationToken cancellationToken) { Calls.Add(nameof(FlushAsync)); return Task.CompletedTask; }

        public override void CopyTo(Stream destination, int bufferSize) => Calls.Add(nameof(CopyTo));

        public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) { Calls.Add(nameof(CopyToAsync)); return Task.CompletedTask; }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException(nameof(Seek));

        public override void SetLength(long value) => throw new NotSupportedException(nameof(SetLength));

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    private static (LeaseStream Sut, RecordingStream Inner) CreateSut()
    {
        var inner = new RecordingStream();

        // A default lease is one that already ended: Invalidate throws ObjectDisposedException and
        // Dispose does nothing, which is what LeaseStream must tolerate when the pool went first.
        return (new LeaseStream(default, inner), inner);
    }

    public static TheoryData<string> Members =>
    [
        "CanRead", "CanWrite", "CanSeek", "CanTimeout", "get_ReadTimeout", "set_ReadTimeout:7", "get_WriteTimeout", "set_WriteTimeout:8",
        "Read(byte[])", "Read(Span)", "ReadByte", "ReadAsync(byte[])", "ReadAsync(Memory)", "BeginRead", "EndRead",
        "Write(byte[])", "Write(Span)", "WriteByte", "WriteAsync(byte[])", "WriteAsync(Memory)", "BeginWrite", "EndWrite",
        "Flush", "FlushAsync", "CopyTo", "CopyToAsync",
    ];

    [Theory]
    [MemberData(nameof(Members))]
    public async Task Member_ForwardedToTheSameMemberOfTheLeaseStream(string member)
    {
        var (sut, inner) = CreateSut();
        var buffer = new byte[4];
        var token = TestContext.Current.CancellationToken;
        var expected = new List<string> { member };

        object? result = member switch
        {
            "CanRead" => sut.CanRead,
            "CanWrite" => sut.CanWrite,
            "CanSeek" => sut.CanSeek,
            "CanTimeout" => sut.CanTimeout,
            "get_ReadTimeout" => sut.ReadTimeout,
            "set_ReadTimeout:7" => sut.ReadTimeout = 7,
            "get_WriteTimeout" => sut.WriteTimeout,
            "set_WriteTimeout:8" => sut.WriteTimeout = 8,
            "Read(byte[])" => sut.Read(buffer, 0, 4),
            "Read(Span)" => sut.Read(buffer.AsSpan()),
            "ReadByte" => sut.ReadByte(),
            "ReadAsync(byte[])" => await sut.ReadAsync(buffer, 0, 4, token),
            "ReadAsync(Memory)" => await sut.ReadAsync(buffer.AsMemory(), token),
            "BeginRead" => sut.BeginRead(buffer, 0, 4, null, null),
            "EndRead" => sut.EndRead(Task.FromResult(6)),
            "Write(byte[])" => Run(() => sut.Write(buffer, 0, 4)),
            "Write(Span)" => Run(() => sut.Write(buffer.AsSpan())),
            "WriteByte" => Run(() => sut.WriteByte(1)),
            "WriteAsync(byte[])" => await RunAsync(sut.WriteAsync(buffer, 0, 4, token)),
            "WriteAsync(Memory)" => await RunAsync(sut.WriteAsync(buffer.AsMemory(), token).AsTask()),
            "BeginWrite" => sut.BeginWrite(buffer, 0, 4, null, null),
            "EndWrite" => Run(() => sut.EndWrite(Task.CompletedTask)),
            "Flush" => Run(sut.Flush),
            "FlushAsync" => await RunAsync(sut.FlushAsync(token)),
            "CopyTo" => Run(() => sut.CopyTo(Stream.Null, 81920)),
            "CopyToAsync" => await RunAsync(sut.CopyToAsync(Stream.Null, 81920, token)),
            _ => throw new ArgumentOutOfRangeException(nameof(member), member, null),
        };

        Assert.Equal(expected, inner.Calls);
        Assert.Equal(
            member switch
            {
                "CanRead" or "CanWrite" or "CanTimeout" => true,
                "CanSeek" => false,
                "get_ReadTimeout" => 11,
                "get_WriteTimeout" => 12,
                "set_ReadTimeout:7" => 7,
                "set_WriteTimeout:8" => 8,
                "Read(byte[])" => 1,
                "Read(Span)" => 2,
                "ReadByte" => 3,
                "ReadAsync(byte[])" => 4,
                "ReadAsync(Memory)" => 5,
                "EndRead" => 6,
                _ => result,
            },
            result);

        static object? Run(Action action)
        {
            action();
            return null;
        }

        static async Task<object?> RunAsync(Task task)
        {
            await task;
            return null;
        }
    }

    [Fact]
    public void SeekingMembers_ThrowLikeTheLeaseStream()
    {
        var (sut, _) = CreateSut();

        Assert.Equal("Length", Assert.Throws<NotSupportedException>(() => sut.Length).Message);
        Assert.Equal("get_Position", Assert.Throws<NotSupportedException>(() => sut.Position).Message);
        Assert.Equal("set_Position", Assert.Throws<NotSupportedException>(() => sut.Position = 1).Message);
        Assert.Equal("Seek", Assert.Throws<NotSupportedException>(() => sut.Seek(0, SeekOrigin.Begin)).Message);
        Assert.Equal("SetLength", Assert.Throws<NotSupportedException>(() => sut.SetLength(1)).Message);
    }

    [Fact]
    public async Task Dispose_LeaseAlreadyEnded_NoThrowAndInnerStreamLeftToThePool()
    {
        var (sut, inner) = CreateSut();

        sut.Dispose();
        sut.Dispose();
        await sut.DisposeAsync();

        // The pool owns the socket and its stream; ending the lease makes it close them.
        Assert.False(inner.Disposed);
        Assert.Empty(inner.Calls);
    }

    [Fact]
    public async Task Dispose_RealLeaseDisposedThrice_EndedOnceAndSocketNotReused()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);

        // Fake time: the graceful close's TIME_WAIT charge stays put while we count it.
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = [System.Net.IPAddress.Parse("127.0.0.2")], LocalPortRange = PortSlices.Integration.Take(5) },
            new FakeTimeProvider());
        var lease = await pool.AcquireAsync(server.EndPoint, token);
        var firstLocal = lease.LocalEndPoint;
        var sut = new LeaseStream(lease);

        sut.Dispose();
        await sut.DisposeAsync();
        sut.Close();

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(1, usage.TimeWait);
        Assert.Throws<ObjectDisposedException>(() => lease.Socket);

        // Invalidated, not returned: the next acquire opens a new connection.
        using var next = await pool.AcquireAsync(server.EndPoint, token);
        Assert.False(next.IsReused);
        Assert.NotEqual(firstLocal, next.LocalEndPoint);
    }
}
