using Microsoft.Extensions.Logging;
using TuplePool.Redis.Grants;
using TuplePool.Redis.Store;
using TuplePool.Redis.Telemetry;

namespace TuplePool.Redis;

/// <summary>
/// Where the budget stands with Redis (<see cref="RedisFleetStatus"/>), from the outcome of each
/// request, with the log event of each change, and the pause before asking again after a failure
/// (doubling from the retry interval up to a third of the lease, so an outage costs a few
/// requests, not one per destination per tick).
/// </summary>
internal sealed class FleetStatusTracker(FleetContext context, string fleetName, ILogger logger, TimeSpan waitRetryInterval)
{
    private readonly object _lock = new();
    private bool _unreachable;
    private long _unreachableSince;
    private int _failures;
    private long _pauseUntil;
    private bool _misconfigured;
    private long _recoveringUntil;

    public RedisFleetStatus Current
    {
        get
        {
            lock (_lock)
            {
                return _misconfigured ? RedisFleetStatus.Misconfigured
                    : _unreachable ? RedisFleetStatus.Unreachable
                    : context.Now() < _recoveringUntil ? RedisFleetStatus.Recovering
                    : RedisFleetStatus.Connected;
            }
        }
    }

    /// <summary>Whether requests may be sent now (not in the pause after a failure).</summary>
    public bool MayRequest
    {
        get
        {
            lock (_lock)
            {
                return context.Now() >= _pauseUntil;
            }
        }
    }

    /// <summary>An applied answer. Returns true when it ends an outage (the caller re-asserts every grant).</summary>
    public bool Answered(in GrantReply reply, int grants)
    {
        bool restored;
        TimeSpan outage;
        lock (_lock)
        {
            var now = context.Now();
            restored = _unreachable;
            outage = restored ? context.TimeProvider.GetElapsedTime(_unreachableSince, now) : TimeSpan.Zero;
            _unreachable = false;
            _failures = 0;
            _pauseUntil = 0;
            _misconfigured = false;
            if (reply.Recovering > TimeSpan.Zero)
            {
                _recoveringUntil = Math.Max(_recoveringUntil, now + context.Ticks(reply.Recovering));
            }
        }

        if (restored)
        {
            FleetLog.RedisRestored(logger, fleetName, outage, grants);
        }

        return restored;
    }

    /// <summary>Redis refused this instance's capacity or reserved shares.</summary>
    public void Refused(in GrantReply reply)
    {
        bool first;
        lock (_lock)
        {
            first = !_misconfigured;
            _misconfigured = true;
            _unreachable = false;
            PauseLocked();
        }

        if (first)
        {
            FleetLog.Misconfigured(logger, fleetName, reply.FleetCapacity, reply.FleetReserved, context.Shares.Capacity, context.Shares.Reserved, context.Shares.StaticShare);
        }
    }

    /// <summary>A request failed or timed out.</summary>
    public void Failed(string error)
    {
        bool first;
        lock (_lock)
        {
            first = !_unreachable;
            if (first)
            {
                _unreachable = true;
                _unreachableSince = context.Now();
            }

            PauseLocked();
        }

        if (first)
        {
            FleetLog.RedisUnreachable(logger, fleetName, error, context.LeaseTime, context.Shares.StaticShare);
        }
    }

    /// <summary>The multiplexer reconnected: ask again at once.</summary>
    public void Reconnected()
    {
        lock (_lock)
        {
            _pauseUntil = 0;
        }
    }

    private void PauseLocked()
    {
        _failures = Math.Min(_failures + 1, 16);
        var pause = Math.Min(waitRetryInterval.Ticks * (1L << (_failures - 1)), Math.Max(waitRetryInterval.Ticks, context.LeaseTime.Ticks / 3));
        _pauseUntil = context.Now() + context.Ticks(TimeSpan.FromTicks(pause));
    }
}
