using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// A pool on real loopback sockets from <see cref="TestSources.S2"/> for tests that drive its time
/// with a fake clock. Its budget is <c>capacity</c> ports, the first of a 100-port slice of the
/// test's own; real connects get the whole slice, so the real kernel's TIME_WAIT (on a frozen fake
/// clock) never blocks them. A caller may wait 300 s, so a wait ends when room comes or the test
/// moves the clock, never by itself. The kernel is said to have <c>tcp_tw_reuse</c> off and the
/// census sees nothing, unless the test hands in its own.
/// </summary>
internal static class LoopbackPool
{
    public static SocketPool Create(
        TimeProvider time,
        int capacity,
        CloseMode closeMode,
        Action<TuplePoolOptions>? configure = null,
        ISocketConnector? connector = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        IKernelCensus? census = null,
        Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null)
    {
        var slice = PortSlices.Next(100);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(slice.First, slice.First + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(300),
            CloseMode = closeMode,
        };
        configure?.Invoke(options);
        connector ??= new SocketConnector(TestKernel.Create(), slice);
        return new SocketPool(options, time, loggerFactory, meterFactory, connector, census ?? Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0), dnsLookup);
    }
}
