using System.Globalization;
using StackExchange.Redis;
using TuplePool.Redis.Grants;

namespace TuplePool.Redis.Store;

/// <summary>
/// Runs <see cref="GrantScript"/> on the fleet's Redis. The requests of one instance for one
/// destination reach Redis in the order they were sent (one connection to the key's node, first
/// in first out, also through StackExchange.Redis's backlog while reconnecting); the request
/// number covers the rest (a request resent late after its caller gave up on it).
/// </summary>
internal sealed class RedisGrantStore(IConnectionMultiplexer redis, string instanceId, FleetContext context)
{
    private readonly RedisValue _instance = instanceId;
    private readonly RedisValue _coordinated = context.Shares.Coordinated;
    private readonly RedisValue _capacity = context.Shares.Capacity.ToString(CultureInfo.InvariantCulture);
    private readonly RedisValue _reserved = context.Shares.Reserved.ToString(CultureInfo.InvariantCulture);
    private readonly RedisValue _recordMs = Milliseconds(context.RecordTime);
    private readonly RedisValue _waitingRecordMs = Milliseconds(context.LeaseTime);
    private readonly RedisValue _recoveryMs = Milliseconds(context.RecoveryWindow);

    public async Task<GrantReply> SyncAsync(GrantKeys keys, GrantRequest request)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(
            GrantScript.Text,
            [keys.Destination, keys.Epoch],
            [_instance, request.Keep, request.Want, request.Waiting, _coordinated, _capacity, _reserved, _recordMs, _waitingRecordMs, _recoveryMs, request.Sequence]).ConfigureAwait(false);
        return Parse(result);
    }

    internal static GrantReply Parse(RedisResult result)
    {
        var items = (RedisResult[]?)result;
        if (items is null || items.Length != 9)
        {
            throw new InvalidOperationException($"The fleet's grant script answered {result.Resp2Type} with {items?.Length ?? 0} items, not 9.");
        }

        return new GrantReply(
            (GrantOutcome)(int)items[0],
            (int)items[1],
            (int)items[2],
            (string?)items[3] ?? string.Empty,
            TimeSpan.FromMilliseconds((long)items[4]),
            (int)items[5],
            (int)items[6],
            (string?)items[7] ?? string.Empty,
            (string?)items[8] ?? string.Empty);
    }

    private static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}
