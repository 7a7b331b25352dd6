using System.Net;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Sources;

/// <summary>
/// A source prefix on real loopback sockets, without root: Linux serves the whole of 127.0.0.0/8
/// on lo (a local route, as <c>ip route add local</c> makes for any other prefix), so
/// 127.64.0.0/16 works as an AnyIP prefix with no setup.
/// </summary>
public sealed class SourcePrefixLoopbackTests
{
    private static readonly IPNetwork Prefix = IPNetwork.Parse("127.64.0.0/16");

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
    public async Task TenPorts_HundredConnectionsToOneListener_EachFromAnotherAddressOfThePrefix()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "127.0.0.0/8 is served whole by lo on Linux only");
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourcePrefixes = [Prefix],
            LocalPortRange = PortSlices.Next(10),
            CloseMode = CloseMode.Abortive,
            AcquireTimeout = TimeSpan.FromSeconds(5),
        });

        var leases = await HoldAsync(pool, server.EndPoint, 100);

        var sources = leases.Select(l => l.LocalEndPoint.Address).ToList();
        Assert.Equal(100, sources.Distinct().Count());
        Assert.All(sources, s => Assert.True(Prefix.Contains(s), $"{s} is not in {Prefix}"));
        var snapshot = pool.GetSnapshot();
        Assert.Equal(100, snapshot.Tuples.Count); // one ledger per address in use, none for the rest of the /16
        Assert.Equal(sources.Order(AddressOrder.Instance), snapshot.Tuples.Select(t => t.Source).Order(AddressOrder.Instance));
        Assert.True(await server.WaitUntilAsync(s => s.Open == 100, TimeSpan.FromSeconds(30)), $"the server holds {server.Open} of 100");

        leases.ForEach(l => { l.Invalidate(); l.Dispose(); });

        Assert.Empty(pool.GetSnapshot().Tuples); // reset, nothing left on any tuple: every ledger is gone
    }

    [Fact]
    public async Task SmallPrefixFull_ExhaustedException_ListsTheAddressesInUse()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "127.0.0.0/8 is served whole by lo on Linux only");
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourcePrefixes = [IPNetwork.Parse("127.64.0.0/30")], // 127.64.0.1 and .2
            LocalPortRange = PortSlices.Next(5),
            CloseMode = CloseMode.Abortive,
            AcquireTimeout = TimeSpan.FromMilliseconds(200),
        });
        var leases = await HoldAsync(pool, server.EndPoint, 10);

        var e = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Equal(["127.64.0.1", "127.64.0.2"], e.Usage.Select(u => u.Source.ToString()).Order(StringComparer.Ordinal));
        Assert.All(e.Usage, u => Assert.Equal(0, u.Remaining));
        leases.ForEach(l => l.Dispose());
    }

    private sealed class AddressOrder : IComparer<IPAddress>
    {
        public static readonly AddressOrder Instance = new();

        public int Compare(IPAddress? x, IPAddress? y) => string.CompareOrdinal(x?.ToString(), y?.ToString());
    }
}
