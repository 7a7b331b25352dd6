using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TuplePool.Redis;
using TuplePool.Redis.Store;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// A fleet on one redis-server: members, each with its own multiplexer (a process of the fleet),
/// its own <see cref="RedisFleetBudget"/> and a <see cref="SimulatedPool"/> on one destination.
/// The destination is only a key: nothing ever connects to it.
/// </summary>
internal sealed class FleetLab : IAsyncDisposable
{
    /// <summary>Capacity 60, three expected instances, a quarter static: static share 5, 15 reserved, 45 through Redis in chunks of 8.</summary>
    public const int Capacity = 60;
    public const int StaticShare = 5;
    public const int Coordinated = 45;

    private readonly RedisFixture _redis;
    private readonly Action<RedisFleetOptions>? _configure;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly IMeterFactory? _meterFactory;
    private readonly List<FleetMember> _members = [];

    public FleetLab(RedisFixture redis, int destinationPort, Action<RedisFleetOptions>? configure = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        _redis = redis;
        _configure = configure;
        _loggerFactory = loggerFactory;
        _meterFactory = meterFactory;
        FleetName = "test-" + Guid.NewGuid().ToString("N")[..8];
        Destination = new IPEndPoint(IPAddress.Parse("198.18.0.10"), destinationPort);
        Nat = new NatOptions { PortsPerDestination = Capacity, HoldAfterClose = TimeSpan.FromSeconds(1), HoldAfterReset = TimeSpan.FromSeconds(0.5) };
        Keys = new FleetKeys(RedisFleetDefaults.KeyPrefix, FleetName).For(Destination);
    }

    public string FleetName { get; }

    public IPEndPoint Destination { get; }

    public NatOptions Nat { get; }

    public GrantKeys Keys { get; }

    /// <summary>The members now (the watch reads it while a test adds members).</summary>
    public FleetMember[] Members
    {
        get
        {
            lock (_members)
            {
                return [.. _members];
            }
        }
    }

    /// <summary>The options every member starts from: lease 2 s, hold 1 s, retries every 100 ms, requests time out after 2 s (the default), no recovery window unless a test sets one.</summary>
    public RedisFleetOptions Options(string instance)
    {
        var options = new RedisFleetOptions
        {
            FleetName = FleetName,
            ExpectedInstances = 3,
            StaticShareFraction = 0.25,
            ChunkSize = 8,
            LeaseTime = TimeSpan.FromSeconds(2),
            WaitRetryInterval = TimeSpan.FromMilliseconds(100),
            RecoveryWindow = TimeSpan.Zero,
            InstanceId = instance,
        };
        _configure?.Invoke(options);
        return options;
    }

    public async Task<FleetMember> AddAsync(string instance, Action<RedisFleetOptions>? configure = null, NatOptions? nat = null)
    {
        var multiplexer = await _redis.Server.ConnectAsync(instance);
        var options = Options(instance);
        configure?.Invoke(options);
        var budget = new RedisFleetBudget(multiplexer, options, TimeProvider.System, _loggerFactory, _meterFactory);
        var member = new FleetMember(instance, multiplexer, budget, new SimulatedPool(budget, nat ?? Nat, Destination));
        lock (_members)
        {
            _members.Add(member);
        }

        return member;
    }

    /// <summary>Ports Redis counts for the fleet at this destination: the live records' grants, on Redis's clock.</summary>
    public async Task<int> RecordedAsync()
    {
        var db = _redis.Inspect;
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        var now = (long.Parse((string)time[0]!, CultureInfo.InvariantCulture) * 1000) + (long.Parse((string)time[1]!, CultureInfo.InvariantCulture) / 1000);
        var sum = 0;
        foreach (var entry in await db.HashGetAllAsync(Keys.Destination))
        {
            var parts = ((string)entry.Value!).Split(':');
            if (long.Parse(parts[1], CultureInfo.InvariantCulture) > now)
            {
                sum += int.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>The record of <paramref name="instance"/> at the destination: (grant, waiting), or null.</summary>
    public async Task<(int Grant, int Waiting)?> RecordOfAsync(string instance)
    {
        var value = await _redis.Inspect.HashGetAsync(Keys.Destination, instance);
        if (value.IsNull)
        {
            return null;
        }

        var parts = ((string)value!).Split(':');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    /// <summary>Watches the fleet until disposed: what the NAT holds and what the live members may hold, every 5 ms; what Redis counts, every 20 ms.</summary>
    public InvariantWatch Watch() => new(this);

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            member.Pool.Dispose();
            await member.Budget.DisposeAsync();
            await member.Multiplexer.DisposeAsync();
        }
    }
}

/// <summary>One instance of the fleet.</summary>
internal sealed record FleetMember(string Name, ConnectionMultiplexer Multiplexer, RedisFleetBudget Budget, SimulatedPool Pool)
{
    public bool Crashed { get; private set; }

    /// <summary>The process dies: its connections close (the NAT holds their ports for the hold time), its Redis connection goes, nothing is handed back.</summary>
    public async Task CrashAsync()
    {
        Crashed = true;
        Pool.Crash();
        await Multiplexer.CloseAsync(allowCommandsToComplete: false);
    }
}

/// <summary>
/// The fleet's two promises, checked all along: the NAT never holds more than its capacity, and
/// the live members' grants plus what dead members' connections still hold never add up to more.
/// Redis's own count of the coordinated part stays within it too.
/// </summary>
internal sealed class InvariantWatch : IAsyncDisposable
{
    private readonly FleetLab _lab;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _local;
    private readonly Task _redis;
    private int _samples;
    private int _redisSamples;

    public InvariantWatch(FleetLab lab)
    {
        _lab = lab;
        _local = Task.Run(WatchLocalAsync);
        _redis = Task.Run(WatchRedisAsync);
    }

    public int MaxHeld { get; private set; }

    public int MaxPromised { get; private set; }

    public int MaxRecorded { get; private set; }

    public int Samples => Volatile.Read(ref _samples);

    /// <summary>Why the local watch stopped before it was disposed; null while it runs.</summary>
    public Exception? Fault => _local.Exception ?? _redis.Exception;

    public int RedisSamples => Volatile.Read(ref _redisSamples);

    /// <summary>Waits for two more samples of each kind, so what the test just did has been seen.</summary>
    public async Task CatchUpAsync()
    {
        var local = Samples + 2;
        var redis = RedisSamples + 2;
        var started = TimeProvider.System.GetTimestamp();
        while ((Samples < local || RedisSamples < redis) && TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(5) && Fault is null)
        {
            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _local;
        await _redis;
        _stop.Dispose();
    }

    private async Task WatchLocalAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            // One sample reads the members one after another. A port moves from one member to
            // another no faster than the budget's settle time (100 ms: lowered here, told to Redis,
            // granted there), so a sample read within 50 ms sees no port twice; a slower one (this
            // thread descheduled under the suite's load) is dropped rather than misread.
            var started = TimeProvider.System.GetTimestamp();
            var held = 0;
            var promised = 0;
            foreach (var member in _lab.Members)
            {
                var memberHeld = member.Pool.Held;
                held += memberHeld;
                promised += member.Crashed ? memberHeld : member.Pool.Grant;
            }

            if (TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromMilliseconds(50))
            {
                MaxHeld = Math.Max(MaxHeld, held);
                MaxPromised = Math.Max(MaxPromised, promised);
                Interlocked.Increment(ref _samples);
            }

            await Task.Delay(5);
        }
    }

    private async Task WatchRedisAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                MaxRecorded = Math.Max(MaxRecorded, await _lab.RecordedAsync());
                Interlocked.Increment(ref _redisSamples);
            }
            catch (RedisException)
            {
                // The server is down in an outage test; the local watch goes on.
            }

            await Task.Delay(20);
        }
    }
}
