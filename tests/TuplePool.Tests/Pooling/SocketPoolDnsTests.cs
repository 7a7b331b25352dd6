using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

[CollectionDefinition(nameof(ProcessWideDnsCounting), DisableParallelization = true)]
public sealed class ProcessWideDnsCounting;

/// <summary>
/// Counts the runtime's own DNS lookups of "localhost" (the <c>dns.lookup.duration</c>
/// instrument of System.Net.NameResolution), which any test of the process could make, so it runs alone.
/// </summary>
[Collection(nameof(ProcessWideDnsCounting))]
public sealed class SocketPoolDnsTests
{
    [Fact]
    public async Task DnsRefreshIntervalInfinite_ANameIsResolvedOnce()
    {
        // "infinite" compared as a TimeSpan of -1 ms, so every new connection asked DNS again.
        var lookups = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == "System.Net.NameResolution" && i.Name == "dns.lookup.duration")
                {
                    l.EnableMeasurementEvents(i);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "dns.question.name" && tag.Value as string == "localhost")
                {
                    Interlocked.Increment(ref lookups);
                }
            }
        });
        listener.Start();
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = PortSlices.Next(10),
            CloseMode = CloseMode.Abortive,
            DnsRefreshInterval = Timeout.InfiniteTimeSpan,
        });
        var name = new DnsEndPoint("localhost", server.EndPoint.Port, AddressFamily.InterNetwork);

        for (var i = 0; i < 3; i++)
        {
            var lease = await pool.AcquireAsync(name);
            Assert.False(lease.IsReused); // each one a new connection, so each one asks for addresses
            lease.Invalidate();
            lease.Dispose();
        }

        Assert.Equal(1, Volatile.Read(ref lookups));
    }
}
