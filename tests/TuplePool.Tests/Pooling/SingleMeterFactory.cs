using System.Diagnostics.Metrics;

namespace TuplePool.Tests.Pooling;

/// <summary>Hands the pool one meter the test can tell apart from every other pool's.</summary>
internal sealed class SingleMeterFactory : IMeterFactory
{
    public Meter? Meter { get; private set; }

    public Meter Create(MeterOptions options) => Meter = new Meter(options);

    public void Dispose() => Meter?.Dispose();
}
