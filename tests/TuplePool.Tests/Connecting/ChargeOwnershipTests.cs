using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Polly;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// Every charge a new connection takes is released exactly once, on every path it can end on,
/// and its socket is closed with it: a connect whose telemetry listener throws, an open a user's
/// strategy discards. Checked in the pool's ledger and in the kernel's socket table.
/// </summary>
public sealed class ChargeOwnershipTests : IDisposable
{
    // The pool's own meter factory: a listener that throws must break this test's pool only, not
    // the pools of tests running beside it (every pool's meter is named TuplePool).
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    private SocketPool CreateSut(PortRange slice, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = slice,
            AcquireTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        return new SocketPool(options, null, null, _services.GetRequiredService<IMeterFactory>());
    }

    [Fact]
    public async Task ConnectListenerThrows_CallerSeesItsException_SocketClosedAndNothingCharged()
    {
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(10);
        await using var pool = CreateSut(slice);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, _services.GetRequiredService<IMeterFactory>()) && instrument.Name == "tuplepool.connect.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("listener broke"));
        listener.Start();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync(server.EndPoint));

        Assert.Equal("listener broke", error.Message);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
        // At once, not eventually: a leaked socket is closed by its finalizer some seconds later.
        Assert.Equal(0, KernelSockets.Count(slice, server.EndPoint, TcpState.Established));
    }

    [Fact]
    public async Task UserStrategyDiscardsASuccessfulOpen_ItsSocketIsClosedAndItsChargeReleased()
    {
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(10);
        await using var pool = CreateSut(slice, o => o.ConfigureConnectPipeline = static (builder, _) => builder.AddStrategy(
            static _ => new OpenTwiceKeepSecond(), new OpenTwiceKeepSecondOptions()));

        var lease = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(1, pool.GetSnapshot().TotalActive);
        Assert.Equal(1, KernelSockets.Count(slice, server.EndPoint, TcpState.Established));
        lease.Invalidate();
        lease.Dispose();
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    private sealed class OpenTwiceKeepSecondOptions : ResilienceStrategyOptions;

    /// <summary>A strategy that runs the open twice and keeps the second result, dropping the first without disposing it (as a careless hedging or fallback strategy would).</summary>
    private sealed class OpenTwiceKeepSecond : ResilienceStrategy
    {
        protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
        {
            _ = await callback(context, state).ConfigureAwait(false);
            return await callback(context, state).ConfigureAwait(false);
        }
    }
}
