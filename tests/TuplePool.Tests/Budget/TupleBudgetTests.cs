using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Platform;
using TuplePool.Tests.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Budget;

public sealed class TupleBudgetTests
{
    private static readonly IPEndPoint Remote = new(IPAddress.Parse("198.51.100.7"), 443); // never connected to: ledger math only
    private static readonly IPEndPoint LoopbackRemote = new(IPAddress.Loopback, 9000);

    private static TupleBudget CreateSut(int twReuse = 0, PortRange? system = null, IReadOnlyList<PortRange>? reserved = null, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions();
        configure?.Invoke(options);
        return new TupleBudget(TestKernel.Create(twReuse, system, reserved), options, new FakeTimeProvider());
    }

    [Fact]
    public void CapacityPerTuple_SystemRange_IsTheWholeRange()
        => Assert.Equal(28232, CreateSut().CapacityPerTuple);

    [Fact]
    public void CapacityPerTuple_SubtractsReservedPortsInsideTheRangeAndReservedPortsPerTuple()
    {
        var sut = CreateSut(
            reserved: [new PortRange(8080, 8080), new PortRange(40000, 40009), new PortRange(40005, 40014)],
            configure: o =>
            {
                o.LocalPortRange = new PortRange(40000, 40099);
                o.ReservedPortsPerTuple = 5;
            });

        // 100 ports, 15 reserved inside (overlaps counted once, 8080 is outside), 5 kept back.
        Assert.Equal(80, sut.CapacityPerTuple);
    }

    [Fact]
    public void EffectiveRange_PoolSlicePartlyOutsideTheSystemRange_IsClampedLikeTheKernelDoes()
    {
        var sut = CreateSut(configure: o => o.LocalPortRange = new PortRange(30000, 32867));

        Assert.Equal(new PortRange(32768, 32867), sut.EffectiveRange);
        Assert.Equal(100, sut.CapacityPerTuple);
    }

    [Fact]
    public void SearchRange_NoLocalPortRange_IsTheSystemRange()
        => Assert.Equal(new PortRange(32768, 60999), CreateSut().SearchRange);

    [Fact]
    public void SearchRange_LocalPortRangeSetPerSocket_IsTheClampedSlice()
    {
        var sut = CreateSut(configure: o => o.LocalPortRange = new PortRange(30000, 32867));

        Assert.Equal(new PortRange(32768, 32867), sut.SearchRange);
    }

    [Fact]
    public void SearchRange_KernelIgnoresLocalPortRange_IsTheSystemRangeThoughTheBudgetIsSmaller()
    {
        // Before Linux 6.3 the pool's sockets take any system port: a socket anywhere in it stands in their way.
        var kernel = new KernelSettings
        {
            PortRange = new PortRange(32768, 60999),
            ReservedPorts = [],
            TcpTwReuse = 0,
            TcpTwReuseDelay = TimeSpan.FromSeconds(1),
            KernelVersion = new Version(6, 1),
            IsLinux = true,
            Fallbacks = [],
        };
        var sut = new TupleBudget(kernel, new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40099) }, new FakeTimeProvider());

        Assert.Equal(new PortRange(32768, 60999), sut.SearchRange);
        Assert.Equal(100, sut.CapacityPerTuple);
    }

    [Theory]
    [InlineData(0, "127.0.0.2", false, 60)]
    [InlineData(0, "0.0.0.0", true, 60)]
    [InlineData(1, "10.0.0.2", false, 1)]
    [InlineData(2, "10.0.0.2", false, 60)]
    [InlineData(2, "127.0.0.2", false, 1)]
    [InlineData(2, "0.0.0.0", true, 1)]
    public void TimeWaitChargeFor_FollowsTcpTwReuse(int twReuse, string source, bool loopbackDestination, int expectedSeconds)
    {
        var sut = CreateSut(twReuse);
        var tuple = new ConnectionTuple(IPAddress.Parse(source), loopbackDestination ? LoopbackRemote : Remote);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), sut.TimeWaitChargeFor(tuple));
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), sut.TryCharge(tuple)!.Local.TimeWaitCharge);
    }

    [Theory]
    [InlineData("1", "0", "10.0.0.2", false, 60)]
    [InlineData("2", "0", "127.0.0.2", true, 60)]
    [InlineData("2", "1", "127.0.0.2", true, 1)]
    [InlineData("1", "2", "10.0.0.2", false, 1)]
    public void TimeWaitChargeFor_KernelFromProc_ReuseChargeOnlyWithTimestamps(string twReuse, string timestamps, string source, bool loopbackDestination, int expectedSeconds)
    {
        // Without TCP timestamps the kernel cannot take a TIME_WAIT tuple over, whatever
        // tcp_tw_reuse says: the port stays charged for the whole TimeWaitDuration.
        var proc = FakeProcFileSystem.WithDefaults();
        proc[KernelSettings.TcpTwReusePath] = twReuse + "\n";
        proc[KernelSettings.TcpTimestampsPath] = timestamps + "\n";
        var sut = new TupleBudget(KernelSettings.Read(proc, isLinux: true, osVersion: null), new TuplePoolOptions(), new FakeTimeProvider());
        var tuple = new ConnectionTuple(IPAddress.Parse(source), loopbackDestination ? LoopbackRemote : Remote);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), sut.TryCharge(tuple)!.Local.TimeWaitCharge);
    }

    [Fact]
    public void TimeWaitChargeFor_ShorterTimeWaitDurationWins()
    {
        var sut = CreateSut(twReuse: 1, configure: o => o.TimeWaitDuration = TimeSpan.FromMilliseconds(500));

        Assert.Equal(TimeSpan.FromMilliseconds(500), sut.TimeWaitChargeFor(new ConnectionTuple(IPAddress.Parse("10.0.0.2"), Remote)));
    }

    [Fact]
    public void TryCharge_SameTuple_SharesItsLedger_OthersHaveTheirOwn()
    {
        var sut = CreateSut();
        var tuple = new ConnectionTuple(IPAddress.Parse("10.0.0.2"), Remote);
        var ledger = sut.TryCharge(tuple)!.Local;

        Assert.Same(ledger, sut.TryCharge(new ConnectionTuple(IPAddress.Parse("10.0.0.2"), new IPEndPoint(Remote.Address, Remote.Port)))!.Local);
        Assert.NotSame(ledger, sut.TryCharge(new ConnectionTuple(IPAddress.Parse("10.0.0.3"), Remote))!.Local);
        Assert.NotSame(ledger, sut.TryCharge(new ConnectionTuple(IPAddress.Parse("10.0.0.2"), new IPEndPoint(Remote.Address, 444)))!.Local);
        Assert.Equal(2, ledger.Open);
    }

    [Fact]
    public void Release_AbortiveCloseOfTheLastConnection_TheLedgerAndTheAddressGo()
    {
        var sut = CreateSut();
        var tuple = new ConnectionTuple(IPAddress.Parse("10.0.0.2"), Remote);
        var charge = sut.TryCharge(tuple)!;
        Assert.NotNull(sut.FindLedger(tuple));

        charge.Release(ReleaseKind.Free);

        Assert.Null(sut.FindLedger(tuple));
        Assert.True(sut.IsEmpty);
    }

    [Fact]
    public void Release_GracefulClose_TheLedgerStaysForItsTimeWait_ThenTheExpiryDropsIt()
    {
        var time = new FakeTimeProvider();
        var sut = new TupleBudget(TestKernel.Create(twReuse: 0), new TuplePoolOptions(), time);
        var tuple = new ConnectionTuple(IPAddress.Parse("10.0.0.2"), Remote);

        sut.TryCharge(tuple)!.Release(ReleaseKind.TimeWait);

        Assert.Equal(1, sut.FindLedger(tuple)!.TimeWait);
        Assert.Equal(1, sut.ScheduledCount);
        time.Advance(TimeSpan.FromSeconds(59));
        sut.ExpireDue(time.GetTimestamp());
        Assert.NotNull(sut.FindLedger(tuple)); // not due yet
        time.Advance(TimeSpan.FromSeconds(1));
        sut.ExpireDue(time.GetTimestamp());
        Assert.Null(sut.FindLedger(tuple));
        Assert.True(sut.IsEmpty);
        Assert.Equal(0, sut.ScheduledCount);
    }

    [Fact]
    public void ExpireDue_ManyAddressesHeld_LooksOnlyAtThoseDue()
    {
        var time = new FakeTimeProvider();
        var sut = new TupleBudget(TestKernel.Create(twReuse: 0), new TuplePoolOptions(), time);
        for (var port = 1; port <= 100; port++)
        {
            sut.TryCharge(new ConnectionTuple(IPAddress.Parse("10.0.0.2"), new IPEndPoint(Remote.Address, port)))!.Release(ReleaseKind.TimeWait);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        // 100 addresses in TIME_WAIT, charged a second apart from t to t+99; at t+100 those
        // charged up to t+40 are due (41), the other 59 wait their turn in the queue.
        sut.ExpireDue(time.GetTimestamp());

        Assert.Equal(59, sut.Destinations.Count);
        Assert.Equal(59, sut.ScheduledCount);
    }
}
