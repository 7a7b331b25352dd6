using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;
using TuplePool.Connecting;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>The parts of one pool every <see cref="DestinationPool"/> shares; all of them from below Pooling, or Pooling's own.</summary>
internal sealed class PoolContext(
    PoolSettings settings,
    ConnectionOpener opener,
    TupleLookup tuples,
    AcquireErrors errors,
    TuplePoolMetrics metrics,
    ObjectPool<Waiter> waiters,
    ILogger logger,
    Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null)
{
    public PoolSettings Settings { get; } = settings;

    public ConnectionOpener Opener { get; } = opener;

    public TupleLookup Tuples { get; } = tuples;

    public AcquireErrors Errors { get; } = errors;

    public TuplePoolMetrics Metrics { get; } = metrics;

    /// <summary>Reusable waiters, so a crowd of waiting callers allocates no waiter per wait.</summary>
    public ObjectPool<Waiter> Waiters { get; } = waiters;

    /// <summary>Callers in line at every destination together, kept as they join and leave (the snapshot's PendingAcquires).</summary>
    public WaitingCount Waiting { get; } = new();

    public ILogger Logger { get; } = logger;

    /// <summary>The DNS lookup names are resolved with; <see cref="Dns.GetHostAddressesAsync(string, AddressFamily, CancellationToken)"/> unless a test replaces it.</summary>
    public Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? DnsLookup { get; } = dnsLookup;
}
