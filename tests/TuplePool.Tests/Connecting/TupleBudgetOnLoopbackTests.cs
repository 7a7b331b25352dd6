using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// The Foundation proofs on real loopback sockets: the budget is per (source, destination IP,
/// destination port), bind-before-connect does not collapse it, and the caller never sees the
/// kernel's EADDRNOTAVAIL.
/// </summary>
public sealed class TupleBudgetOnLoopbackTests
{
    private static SocketPool CreateSut(IList<IPAddress> sources, PortRange range, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions { SourceAddresses = sources, LocalPortRange = range, AcquireTimeout = TimeSpan.FromSeconds(15) };
        configure?.Invoke(options);
        return new SocketPool(options);
    }

    /// <summary>A pool whose sources are not probed at construction: an unassigned one reaches the connect path (the public constructor refuses it).</summary>
    private static SocketPool CreateUnprobedSut(IList<IPAddress> sources, PortRange range)
        => TestPools.Unprobed(new TuplePoolOptions { SourceAddresses = sources, LocalPortRange = range, AcquireTimeout = TimeSpan.FromSeconds(15) });

    private static async Task<List<SocketLease>> HoldAsync(SocketPool pool, EndPoint destination, int count)
    {
        var leases = new List<SocketLease>(count);
        for (var i = 0; i < count; i++)
        {
            leases.Add(await pool.AcquireAsync(destination));
        }

        return leases;
    }

    [Fact]
    public async Task OneSource_HundredPorts_HoldsExactlyHundred()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(TestSources.Take(1), PortSlices.Next(100), o => o.AcquireTimeout = TimeSpan.FromMilliseconds(200));

        var leases = await HoldAsync(pool, server.EndPoint, 100);

        Assert.Equal(100, leases.Select(l => l.LocalEndPoint.Port).Distinct().Count());
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task FourSources_HundredPorts_HoldFourHundredToOneListener()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(TestSources.Take(4), PortSlices.Next(100));

        var leases = await HoldAsync(pool, server.EndPoint, 400);

        var perSource = leases.GroupBy(l => l.LocalEndPoint.Address).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, perSource.Count);
        Assert.All(perSource.Values, n => Assert.Equal(100, n));
        Assert.True(await server.WaitUntilAsync(s => s.Open == 400, TimeSpan.FromSeconds(30)), $"the server holds {server.Open} of 400");
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task OneSource_TwoListeners_HoldsTwoHundred_BindBeforeConnectDoesNotCollapseTheBudget()
    {
        await using var first = new LoopbackServer();
        await using var second = new LoopbackServer();
        var range = PortSlices.Next(100);
        await using var pool = CreateSut(TestSources.Take(1), range);

        var leases = await HoldAsync(pool, first.EndPoint, 100);
        leases.AddRange(await HoldAsync(pool, second.EndPoint, 100));

        // With IP_BIND_ADDRESS_NO_PORT each destination got the whole 100-port slice, so the same
        // local ports appear twice, once per destination.
        Assert.Equal(200, leases.Count);
        Assert.All(leases, l => Assert.True(range.Contains(l.LocalEndPoint.Port)));
        Assert.Equal(100, leases.Select(l => l.LocalEndPoint.Port).Distinct().Count());
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task GracefulCloseChurn_OverHundredPorts_NeverSurfacesAddressNotAvailable()
    {
        // 2 sources x 50 ports, 400 connect/graceful-close cycles: every close leaves TIME_WAIT,
        // so the pool must wait for the kernel to let tuples be taken over (tcp_tw_reuse) or
        // correct itself from the census, and never pass EADDRNOTAVAIL on.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(TestSources.Take(2), PortSlices.Next(50), o =>
        {
            o.CloseMode = CloseMode.Graceful;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });

        var timeWaitsSeen = 0;
        for (var i = 0; i < 400; i++)
        {
            var lease = await pool.AcquireAsync(server.EndPoint);
            Assert.False(lease.IsReused);
            lease.Invalidate();
            lease.Dispose();
            timeWaitsSeen = Math.Max(timeWaitsSeen, pool.GetSnapshot().TotalTimeWait);
        }

        Assert.True(timeWaitsSeen > 0, "graceful closes by this side must be charged as TIME_WAIT");
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task OtherSocketsOnTheTuple_KernelRefusal_IsCorrectedFromTheCensusAndAnotherSourceUsed()
    {
        await using var server = new LoopbackServer();
        var range = PortSlices.Next(50);
        // 40 sockets of "another program" from 127.0.0.2 in the same slice.
        var outsiders = new List<Socket>();
        for (var i = 0; i < 40; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Assert.True(SocketOptions.TrySetBindAddressNoPort(socket));
            Assert.True(SocketOptions.TrySetLocalPortRange(socket, range));
            socket.Bind(new IPEndPoint(TestSources.S2, 0));
            await socket.ConnectAsync(server.EndPoint);
            outsiders.Add(socket);
        }

        try
        {
            await using var pool = CreateSut(TestSources.Take(2), range, o => o.SourceSelection = SourceSelectionMode.RoundRobin);

            // 10 ports left on .2 and 50 on .3: 60 must all succeed.
            var leases = await HoldAsync(pool, server.EndPoint, 60);

            Assert.Equal(10, leases.Count(l => l.LocalEndPoint.Address.Equals(TestSources.S2)));
            Assert.Equal(50, leases.Count(l => l.LocalEndPoint.Address.Equals(TestSources.S3)));
            var s2 = pool.GetSnapshot().Tuples.Single(t => t.Source.Equals(TestSources.S2));
            Assert.Equal(0, s2.Remaining);
            leases.ForEach(l => l.Dispose());
        }
        finally
        {
            foreach (var socket in outsiders)
            {
                SocketOptions.SetAbortiveClose(socket);
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task KernelRefusal_ASocketOnTheTupleOutsideThePoolsSlice_IsNotInTheKernelCount()
    {
        // The real census: 40 sockets of "another program" in the pool's slice, 5 more on the
        // same tuple bound to ports outside it, which the kernel's search for the pool's sockets
        // never looks at. At the refusal the tuple holds those 40 and the pool's own 10 in the slice.
        await using var server = new LoopbackServer();
        using var logs = new FakeLoggerProvider();
        using var loggerFactory = new LoggerFactory([logs]);
        var range = PortSlices.Next(50);
        var elsewhere = PortSlices.Next(5);
        var outsiders = new List<Socket>();
        try
        {
            for (var i = 0; i < 40; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                outsiders.Add(socket);
                Assert.True(SocketOptions.TrySetBindAddressNoPort(socket));
                Assert.True(SocketOptions.TrySetLocalPortRange(socket, range));
                socket.Bind(new IPEndPoint(TestSources.S2, 0));
                await socket.ConnectAsync(server.EndPoint);
            }

            for (var port = elsewhere.First; port <= elsewhere.Last; port++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                outsiders.Add(socket);
                socket.Bind(new IPEndPoint(TestSources.S2, port)); // a plain bind to a port of its own
                await socket.ConnectAsync(server.EndPoint);
            }

            var options = new TuplePoolOptions
            {
                SourceAddresses = TestSources.Take(2),
                LocalPortRange = range,
                AcquireTimeout = TimeSpan.FromSeconds(15),
                SourceSelection = SourceSelectionMode.RoundRobin,
            };
            await using var pool = new SocketPool(options, null, loggerFactory);

            // 10 ports left on .2 and 50 on .3: 60 must all succeed.
            var leases = await HoldAsync(pool, server.EndPoint, 60);

            Assert.Equal(10, leases.Count(l => l.LocalEndPoint.Address.Equals(TestSources.S2)));
            var corrections = logs.Collector.GetSnapshot().Where(r => r.Id.Id == 6).ToList();
            Assert.NotEmpty(corrections);
            Assert.All(corrections, r => Assert.Equal("50", r.GetStructuredStateValue("KernelCount")));
            leases.ForEach(l => l.Dispose());
        }
        finally
        {
            foreach (var socket in outsiders)
            {
                SocketOptions.SetAbortiveClose(socket);
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task NonLocalSourceAddress_OnlySource_FailsWithAnErrorNamingIt()
    {
        // 192.0.2.1 (TEST-NET-1) is not assigned here: bind fails before any packet is sent.
        await using var server = new LoopbackServer();
        await using var pool = CreateUnprobedSut([IPAddress.Parse("192.0.2.1")], PortSlices.Next(10));

        var error = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Contains("192.0.2.1", error.Message, StringComparison.Ordinal);
        Assert.Equal(SocketError.AddressNotAvailable, error.SocketErrorCode);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);

        // "Nothing reached the server" is only worth asserting once the server has had time to
        // see it: a connection of our own, made after the failure, is queued behind anything the
        // pool might have opened, so once it is accepted every earlier one would have been too.
        using var sentinel = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketOptions.TrySetLocalPortRange(sentinel, PortSlices.Next(1));
        await sentinel.ConnectAsync(server.EndPoint, TestContext.Current.CancellationToken);
        var sentinelEndPoint = (IPEndPoint)sentinel.LocalEndPoint!;
        Assert.True(await server.WaitUntilAsync(s => s.ClientAddresses.ContainsKey(sentinelEndPoint.Address)), "the server never accepted the sentinel");
        Assert.Equal(1, server.AcceptedTotal);
        SocketOptions.SetAbortiveClose(sentinel);
    }

    [Fact]
    public async Task NonLocalSourceAddress_BesideAGoodOne_IsLeftOutAndTheGoodOneServes()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateUnprobedSut([IPAddress.Parse("192.0.2.1"), TestSources.S2], PortSlices.Next(10));

        var leases = await HoldAsync(pool, server.EndPoint, 5);

        Assert.All(leases, l => Assert.Equal(TestSources.S2, l.LocalEndPoint.Address));
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Source.Equals(IPAddress.Parse("192.0.2.1"))); // holds nothing
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task NoSourcesConfigured_KernelChoosesAndTheImplicitSourceIsStillBudgeted()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut([], PortSlices.Next(20), o => o.AcquireTimeout = TimeSpan.FromMilliseconds(200));

        var leases = await HoldAsync(pool, server.EndPoint, 20);

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(IPAddress.Any, usage.Source);
        Assert.Equal(20, usage.Active);
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task SourcesOfTheOtherFamilyOnly_FailsFastWithAClearMessage()
    {
        await using var server = new LoopbackServer(IPAddress.IPv6Loopback);
        await using var pool = CreateSut(TestSources.Take(1), PortSlices.Next(10));

        // A configuration error, not exhaustion.
        var error = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Equal(SocketError.AddressFamilyNotSupported, error.SocketErrorCode);
        Assert.Contains($"no IPv6 source address is configured for {server.EndPoint}", error.Message, StringComparison.Ordinal);
    }
}
