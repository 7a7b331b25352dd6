using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// A metrics listener that throws while the pool records an acquire: the caller sees the
/// listener's exception, and the connection it was to be handed goes back to the pool instead of
/// being lost. Real loopback sockets in the test's own port slice (<see cref="LoopbackPool"/>).
/// </summary>
public sealed class SocketPoolListenerFaultTests
{
    private static SocketPool CreateSut(TimeProvider time, int capacity = 10, IMeterFactory? meterFactory = null)
        => LoopbackPool.Create(time, capacity, CloseMode.Abortive, meterFactory: meterFactory);

    [Fact]
    public async Task AcquireDurationListenerThrows_TheLeaseIsNotLost()
    {
        // The listener throws once the lease exists: the lease goes back to the pool, not astray.
        using var meters = new SingleMeterFactory();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), meterFactory: meters);
        using var listener = ThrowingListener(meters, "tuplepool.acquire.duration");

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(1, usage.Idle); // returned, not leaked
    }

    [Fact]
    public async Task WaitDurationListenerThrows_TheWaitersConnectionIsNotLost()
    {
        using var meters = new SingleMeterFactory();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), capacity: 1, meterFactory: meters);
        var held = await pool.AcquireAsync(server.EndPoint);
        using var listener = ThrowingListener(meters, "tuplepool.acquire.wait_duration");
        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        Assert.False(waiting.IsCompleted);

        held.Dispose(); // wakes the waiter, whose wait is then recorded

        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(1, usage.Idle);
    }

    private static MeterListener ThrowingListener(SingleMeterFactory meters, string instrument)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meters.Meter) && i.Name == instrument)
                {
                    l.EnableMeasurementEvents(i);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("a listener bug"));
        listener.Start();
        return listener;
    }
}
