using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// What callers, options and peers hand the pool that it must not trust: endpoint and address
/// subclasses with equality of their own, an endpoint the caller changes after handing it over,
/// IPv4-mapped source and destination addresses, a destination of a family no source has, a
/// multicast or broadcast destination, a name that resolves to an address no connection can be
/// made to, and a socket returned with bytes it never sent.
/// Real loopback sockets in the test's own port slice; every acquire that could spin or hang runs
/// on a pool thread under a bound, so a broken pool fails the test instead of stalling it.
/// </summary>
public sealed class SocketPoolInputTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static SocketPool CreateSut(Action<TuplePoolOptions>? configure = null, Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null)
    {
        var slice = PortSlices.Next(20);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = slice,
            CloseMode = CloseMode.Abortive,
        };
        configure?.Invoke(options);
        return new SocketPool(options, new FakeTimeProvider(), null, null, new SocketConnector(TestKernel.Create(), slice), Substitute.For<IKernelCensus>(), TestKernel.Create(), dnsLookup);
    }

    /// <summary>
    /// A pool on <paramref name="time"/> whose budget is 10 ports of a 100-port slice, as
    /// <see cref="LoopbackPool"/> builds it; the connector may be a substitute, for inputs that must
    /// never reach a connect.
    /// </summary>
    private static SocketPool CreateSut(TimeProvider time, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null)
        => LoopbackPool.Create(time, capacity: 10, CloseMode.Abortive, configure, connector);

    /// <summary>
    /// The acquire on a pool thread: a lookup that spins never returns from <c>AcquireAsync</c>
    /// itself, so awaiting it on the test's thread would hang the test.
    /// </summary>
    private static Task<SocketLease> AcquireBoundedAsync(SocketPool pool, EndPoint destination)
        => Task.Run(() => pool.AcquireAsync(destination).AsTask()).WaitAsync(Bound);

    private static Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>> Answer(params IPAddress[] addresses)
        => (_, _, _) => Task.FromResult(addresses);

    [Fact]
    public async Task AcquireAsync_IPEndPointSubclassWithItsOwnEquality_IsServedAsTheAddressItNames()
    {
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut();
        (await AcquireBoundedAsync(pool, new OwnEqualityIPEndPoint(a.EndPoint))).Dispose();
        (await AcquireBoundedAsync(pool, b.EndPoint)).Dispose(); // B is the last used now, so A is looked up in the registry

        await using var again = await AcquireBoundedAsync(pool, new OwnEqualityIPEndPoint(a.EndPoint));

        Assert.True(again.IsReused); // A's idle socket: the subclass is the plain address it names
        Assert.Equal(a.EndPoint, again.RemoteEndPoint);
        Assert.Equal(2, pool.Destinations.Count);
    }

    [Fact]
    public async Task AcquireAsync_DnsEndPointSubclassWithItsOwnEquality_IsServedAsTheNameItNames()
    {
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(dnsLookup: Answer(IPAddress.Loopback));
        (await AcquireBoundedAsync(pool, new OwnEqualityDnsEndPoint("a.test", a.EndPoint.Port))).Dispose();
        (await AcquireBoundedAsync(pool, new DnsEndPoint("b.test", b.EndPoint.Port))).Dispose();

        await using var again = await AcquireBoundedAsync(pool, new OwnEqualityDnsEndPoint("a.test", a.EndPoint.Port));

        Assert.True(again.IsReused);
        Assert.Equal(a.EndPoint, again.RemoteEndPoint);
        Assert.Equal(2, pool.Destinations.Count);
    }

    [Fact]
    public async Task AcquireAsync_AddressWhoseEqualsSaysYesToEverything_IsJudgedAndServedByItsBytes()
    {
        // Such an address "equals" 0.0.0.0 when asked, so the destination checks must read its
        // bytes instead; and a listener on 127.0.0.9 at A's port means only the bytes tell it from A.
        await using var a = new LoopbackServer();
        using var b = BindSamePort(IPAddress.Parse("127.0.0.9"), a.EndPoint.Port);
        await using var pool = CreateSut();
        (await AcquireBoundedAsync(pool, a.EndPoint)).Dispose(); // A's socket idle, A the last used

        await using var lease = await AcquireBoundedAsync(pool, new IPEndPoint(new AgreeableAddress("127.0.0.9"), a.EndPoint.Port));

        Assert.False(lease.IsReused);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.9"), a.EndPoint.Port), lease.RemoteEndPoint);
    }

    [Fact]
    public async Task AcquireAsync_EndPointOfAnotherKind_IsRefusedNamingItsType()
    {
        await using var pool = CreateSut();

        var unix = await Assert.ThrowsAsync<ArgumentException>(() => AcquireBoundedAsync(pool, new UnixDomainSocketEndPoint("/tmp/tuplepool-never-created.sock")));
        var own = await Assert.ThrowsAsync<ArgumentException>(() => AcquireBoundedAsync(pool, new HomeMadeEndPoint()));

        Assert.Contains(nameof(UnixDomainSocketEndPoint), unix.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(HomeMadeEndPoint), own.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.Destinations.Count);
    }

    [Fact]
    public async Task AcquireAsync_DnsEndPointSubclassClaimingAFamilyNoNameHas_IsRefusedNamingTheFamily()
    {
        await using var pool = CreateSut(dnsLookup: Answer(IPAddress.Loopback));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => AcquireBoundedAsync(pool, new UnixFamilyDnsEndPoint("a.test", 1000)));

        Assert.Contains("a.test:1000", error.Message, StringComparison.Ordinal);
        Assert.Contains("Unix", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IPv4MappedSourceAddress_ConnectsFromItsIPv4Address()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.SourceAddresses = [TestSources.S3.MapToIPv6()]);

        await using var lease = await AcquireBoundedAsync(pool, server.EndPoint);

        Assert.Equal(TestSources.S3, lease.LocalEndPoint.Address);
        Assert.Equal(TestSources.S3, Assert.Single(pool.GetSnapshot().Tuples).Source);
    }

    [Fact]
    public async Task NameThatResolvesToTheUnspecifiedAddressOnly_IsRefusedNamingTheNameAndTheAddress()
    {
        // A hosts file or DNS blocklist answers 0.0.0.0 for a blocked name; Linux would connect
        // that to this machine itself.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.SourceAddresses = [], Answer(IPAddress.Any)); // the kernel's source: 0.0.0.0 would reach the server

        var error = await Assert.ThrowsAsync<SocketException>(() => AcquireBoundedAsync(pool, new DnsEndPoint("blocked.test", server.EndPoint.Port)));

        Assert.Contains("'blocked.test'", error.Message, StringComparison.Ordinal);
        Assert.Contains("0.0.0.0", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Destination.Address.Equals(IPAddress.Any));
    }

    [Fact]
    public async Task NameThatResolvesToTheUnspecifiedAddressAndARealOne_ConnectsOnlyToTheRealOne()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.SourceAddresses = [], Answer(IPAddress.Any, IPAddress.Loopback));

        await using var lease = await AcquireBoundedAsync(pool, new DnsEndPoint("half-blocked.test", server.EndPoint.Port));

        Assert.Equal(server.EndPoint, lease.RemoteEndPoint);
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Destination.Address.Equals(IPAddress.Any));
    }

    [Fact]
    public async Task WriteCancelledWithBytesUnsent_AndReturnedWithoutInvalidate_TheSocketIsNotLentAgain()
    {
        // A peer that never reads: its receive window and then our send buffer fill up, so the
        // write blocks with bytes still queued when the caller gives up on it.
        using var peer = NonReadingPeer();
        await using var pool = CreateSut();
        var lease = await AcquireBoundedAsync(pool, (IPEndPoint)peer.LocalEndPoint!);
        lease.Socket.SendBufferSize = 4096;
        using var cancel = new CancellationTokenSource();
        var write = lease.Stream.WriteAsync(new byte[4 << 20], cancel.Token).AsTask();
        Assert.True(await Eventually.TrueAsync(() => !lease.Socket.Poll(0, SelectMode.SelectWrite)), "the send buffer never filled");

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(Bound));
        var stuffedPort = lease.LocalEndPoint.Port;
        lease.Dispose(); // no Invalidate(): the caller forgot

        await using var next = await AcquireBoundedAsync(pool, (IPEndPoint)peer.LocalEndPoint!);

        Assert.False(next.IsReused, "a socket whose queued bytes would go out ahead of the next caller's must not be lent");
        Assert.NotEqual(stuffedPort, next.LocalEndPoint.Port);
    }

    [Fact]
    public async Task AcquireAsync_CallerChangesThePortOfItsEndPoint_GetsASocketToTheNewPort()
    {
        // the caller's IPEndPoint is mutable; the pool must not keep or compare it by reference.
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var destination = new IPEndPoint(IPAddress.Loopback, a.EndPoint.Port);
        (await pool.AcquireAsync(destination)).Dispose(); // leaves an idle socket to A

        destination.Port = b.EndPoint.Port;
        var toB = await pool.AcquireAsync(destination);
        Assert.Equal(b.EndPoint, toB.RemoteEndPoint);
        Assert.False(toB.IsReused);
        toB.Dispose();

        // A's destination kept its key: a fresh IPEndPoint for A finds A's idle socket.
        await using var toA = await pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, a.EndPoint.Port));
        Assert.True(toA.IsReused);
        Assert.Equal(a.EndPoint, toA.RemoteEndPoint);
    }

    [Fact]
    public async Task AcquireAsync_IPv4MappedDestinationWithIPv4Sources_ConnectsOverIPv4OnOneLedger()
    {
        // ::ffff:127.0.0.1 is 127.0.0.1 to the kernel.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var mapped = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), server.EndPoint.Port);

        await using (var lease = await pool.AcquireAsync(mapped))
        {
            Assert.Equal(server.EndPoint, lease.RemoteEndPoint);
            Assert.Equal(TestSources.S2, lease.LocalEndPoint.Address);
        }

        await using var plain = await pool.AcquireAsync(server.EndPoint);
        Assert.True(plain.IsReused); // the same destination, so the same idle socket
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(server.EndPoint, usage.Destination);
    }

    [Fact]
    public async Task AcquireAsync_IPv4MappedDestinationWithoutSources_ChargesTheKernelTupleOnce()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.SourceAddresses = []);
        var mapped = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), server.EndPoint.Port);

        var viaMapped = await pool.AcquireAsync(mapped);
        var viaPlain = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(server.EndPoint, viaMapped.RemoteEndPoint);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(IPAddress.Any, usage.Source);
        Assert.Equal(2, usage.Active);
        viaMapped.Dispose();
        viaPlain.Dispose();
    }

    [Fact]
    public async Task IPv6DestinationWithOnlyIPv4Sources_IsAConfigurationErrorNamingTheFamily()
    {
        // A configuration error, not "exhausted, widen the port range".
        var connector = Substitute.For<ISocketConnector>();
        await using var pool = CreateSut(new FakeTimeProvider(), connector: connector);
        var destination = new IPEndPoint(IPAddress.IPv6Loopback, 20998); // never reached: no source can serve it

        var error = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(destination).AsTask());

        Assert.IsNotType<TupleBudgetExhaustedException>(error);
        Assert.Equal(SocketError.AddressFamilyNotSupported, error.SocketErrorCode);
        Assert.Contains("no IPv6 source address is configured for [::1]:20998", error.Message, StringComparison.Ordinal);
        Assert.Empty(connector.ReceivedCalls());
    }

    [Fact]
    public async Task AcquireAsync_MulticastOrSubnetBroadcast_ThrowsArgumentExceptionAndNeverConnects()
    {
        // Refused up front, not accepted and left to fail with the kernel's "Network is unreachable".
        // The connector is a substitute, and ff01::1 is interface-local: no packet could leave the host.
        var connector = Substitute.For<ISocketConnector>();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.SourceAddresses = [], connector: connector);

        var multicast = await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Parse("ff01::1"), 80)).AsTask());
        var broadcast = await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Parse("127.255.255.255"), 80)).AsTask());

        Assert.Contains("multicast", multicast.Message, StringComparison.Ordinal);
        Assert.Contains("broadcast address of a subnet of this machine", broadcast.Message, StringComparison.Ordinal);
        Assert.Empty(connector.ReceivedCalls());
        Assert.Equal(0, pool.Destinations.Count);
    }

    /// <summary>A listener with a small receive buffer that never accepts: connections complete in its backlog and are never read.</summary>
    private static Socket NonReadingPeer()
    {
        var listener = ListenerPorts.BindListener(IPAddress.Loopback);
        listener.ReceiveBufferSize = 4096; // inherited by the connections it takes in
        listener.Listen(16);
        return listener;
    }

    /// <summary>A listener on <paramref name="address"/> at <paramref name="port"/>, taken for the test.</summary>
    private static Socket BindSamePort(IPAddress address, int port)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(16);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>An IPEndPoint whose equality is reference equality and whose hash is its identity, as some callers' wrappers have.</summary>
    private sealed class OwnEqualityIPEndPoint(IPEndPoint endPoint) : IPEndPoint(endPoint.Address, endPoint.Port)
    {
        public override bool Equals(object? comparand) => ReferenceEquals(this, comparand);

        public override int GetHashCode() => RuntimeHelpers.GetHashCode(this);
    }

    private sealed class OwnEqualityDnsEndPoint(string host, int port) : DnsEndPoint(host, port)
    {
        public override bool Equals(object? comparand) => ReferenceEquals(this, comparand);

        public override int GetHashCode() => RuntimeHelpers.GetHashCode(this);
    }

    private sealed class UnixFamilyDnsEndPoint(string host, int port) : DnsEndPoint(host, port)
    {
        public override AddressFamily AddressFamily => AddressFamily.Unix;
    }

    /// <summary>An address that says it equals every other and hashes like all of them.</summary>
    private sealed class AgreeableAddress(string text) : IPAddress(IPAddress.Parse(text).GetAddressBytes())
    {
        public override bool Equals(object? comparand) => comparand is IPAddress;

        public override int GetHashCode() => 0;
    }

    private sealed class HomeMadeEndPoint : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.InterNetwork;
    }
}
