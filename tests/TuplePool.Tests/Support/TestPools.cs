using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace TuplePool.Tests.Support;

/// <summary>
/// Pools for tests of run-time quarantine: the public constructors bind each source address once
/// and refuse one not assigned to this machine (192.0.2.1, TEST-NET-1), as start-up validation
/// does; these go through the internal constructor with that probe off, so such a source reaches
/// the connect path and is quarantined there.
/// </summary>
internal static class TestPools
{
    public static SocketPool Unprobed(TuplePoolOptions options, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        => new(options, time, loggerFactory, meterFactory, connector: null, census: null, kernel: null);
}
