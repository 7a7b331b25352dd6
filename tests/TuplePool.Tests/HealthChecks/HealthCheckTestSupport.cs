using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using TuplePool.HealthChecks;

namespace TuplePool.Tests.HealthChecks;

/// <summary>A pool reading made up by the test, for rules a real pool shows only slowly or not exactly (waiting callers, a refusal's exact age).</summary>
internal sealed class FakeHealthSource : IPoolHealthSource
{
    public List<TupleUsage> Tuples { get; } = [];

    public int? PendingAcquires { get; set; }

    public List<AddressFamily>? QuarantinedFamilies { get; set; } = [];

    public long? RefusedTotal { get; set; }

    public DateTimeOffset? LastRefusal { get; set; }

    public long? BackgroundTotal { get; set; }

    public DateTimeOffset? LastBackground { get; set; }

    public PoolHealthReading Read() => new(Tuples, PendingAcquires, QuarantinedFamilies, RefusedTotal, LastRefusal, BackgroundTotal, LastBackground);

    /// <summary>A tuple with <paramref name="used"/> of <paramref name="capacity"/> ports taken by active connections.</summary>
    public FakeHealthSource WithTuple(int used, int capacity, string source = "127.0.0.2", int port = 5432)
    {
        Tuples.Add(new TupleUsage(IPAddress.Parse(source), new IPEndPoint(IPAddress.Loopback, port), capacity, used, 0, 0, capacity - used));
        return this;
    }
}

internal static class HealthCheckTestSupport
{
    public static Task<HealthCheckResult> CheckAsync(IPoolHealthSource source, TimeProvider time, Action<TuplePoolHealthCheckOptions>? configure = null)
    {
        var options = new TuplePoolHealthCheckOptions();
        configure?.Invoke(options);
        var check = new TuplePoolHealthCheck(source, options, time);
        return check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("tuplepool", check, HealthStatus.Unhealthy, null) });
    }

    /// <summary>
    /// Starts an acquire on a full pool and moves the fake clock a second at a time until the
    /// pool gives up with <see cref="TupleBudgetExhaustedException"/> (AcquireTimeout on the fake clock).
    /// </summary>
    public static async Task RefuseAsync(ISocketPool pool, EndPoint destination, FakeTimeProvider time)
    {
        var waiting = pool.AcquireAsync(destination).AsTask();
        for (var second = 0; second < 600 && !waiting.IsCompleted; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));

            // The timed-out waiter finishes (and records its refusal) on a thread-pool thread: give
            // it the chance before the fake clock runs on, or a loaded machine lets the clock race
            // past the refusal window before the refusal is even recorded.
            await Task.WhenAny(waiting, Task.Delay(100));
        }

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting);
    }

    public static async Task<List<SocketLease>> HoldAsync(ISocketPool pool, EndPoint destination, int count)
    {
        var leases = new List<SocketLease>();
        for (var i = 0; i < count; i++)
        {
            leases.Add(await pool.AcquireAsync(destination));
        }

        return leases;
    }

    public static string[] Busiest(HealthCheckResult result) => (string[])result.Data["busiest"];
}
