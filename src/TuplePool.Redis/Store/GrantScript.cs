namespace TuplePool.Redis.Store;

/// <summary>
/// The one Lua script of the fleet: an instance tells Redis what it keeps of a destination's
/// grant and asks for more, atomically, on the server's clock (<c>redis.call('TIME')</c>), never
/// an instance's.
/// </summary>
/// <remarks>
/// <para>The destination hash has a field per instance: <c>grant:expiry:waiting:seq</c> (ports
/// granted, when the record runs out in server milliseconds, callers waiting there, the
/// instance's request number). A record with ports runs out <c>LeaseTime + HoldAfterClose</c>
/// after the request that wrote it, one with only waiters after <c>LeaseTime</c>; expired records
/// are dropped by the next request, and the hash itself expires with its last record, so a
/// destination nobody uses leaves nothing behind.</para>
/// <para>The epoch hash of the bucket holds an id, the end of a recovery window and the fleet's
/// capacity and reserved static shares. A missing epoch means this Redis never saw the bucket or
/// lost it (restart without persistence, flush, failover to a replica that lagged): it cannot
/// tell which, so it creates a new epoch and, for the recovery window, grants nothing beyond what
/// instances re-assert. Instances see the new id and re-assert at once.</para>
/// <para>Rules, in the order the script applies them: a request older than the instance's
/// recorded one is ignored (a request that timed out on the client may still arrive); what the
/// instance keeps is always accepted (it is what the NAT holds for it, or less than Redis already
/// counted); more is granted only outside the recovery window, from what the other live records
/// leave of the coordinated capacity, and — while another instance waits — only up to this
/// instance's fair share (coordinated capacity ÷ instances that hold or want ports there).</para>
/// <para>Returns <c>{status, grant, extra, epoch, recoveringMs, fair, waiters, fleetCapacity,
/// fleetReserved}</c>; status 0 applied, 1 refused (capacity or reserved shares differ from the
/// epoch's), 2 stale.</para>
/// </remarks>
internal static class GrantScript
{
    // KEYS[1] destination hash, KEYS[2] epoch hash (one hash tag).
    // ARGV: 1 instance, 2 keep, 3 want, 4 waiting, 5 coordinated, 6 capacity, 7 reserved,
    //       8 record ms (lease + hold), 9 waiting-only record ms (lease), 10 recovery ms, 11 seq.
    public const string Text = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local id = ARGV[1]
        local keep = tonumber(ARGV[2])
        local want = tonumber(ARGV[3])
        local waiting = tonumber(ARGV[4])
        local coordinated = tonumber(ARGV[5])
        local seq = tonumber(ARGV[11])

        local e = redis.call('HMGET', KEYS[2], 'id', 'until', 'capacity', 'reserved')
        local epoch = e[1]
        local recoverUntil = tonumber(e[2])
        if not epoch then
          epoch = t[1] .. '.' .. t[2]
          recoverUntil = now + tonumber(ARGV[10])
          redis.call('HSET', KEYS[2], 'id', epoch, 'until', string.format('%d', recoverUntil), 'capacity', ARGV[6], 'reserved', ARGV[7])
        elseif e[3] ~= ARGV[6] or e[4] ~= ARGV[7] then
          return {1, 0, 0, epoch, 0, -1, 0, e[3], e[4]}
        end

        local fields = redis.call('HGETALL', KEYS[1])
        local others, active, waiters, maxExpiry = 0, 0, 0, 0
        local mine, mineSeq = 0, -1
        for i = 1, #fields, 2 do
          local g, x, w, s = string.match(fields[i + 1], '^(%d+):(%d+):(%d+):(%d+)$')
          g = tonumber(g)
          x = tonumber(x)
          if fields[i] == id then
            if x > now then mine = g end
            mineSeq = tonumber(s)
          elseif x <= now then
            redis.call('HDEL', KEYS[1], fields[i])
          else
            others = others + g
            active = active + 1
            if tonumber(w) > 0 then waiters = waiters + 1 end
            if x > maxExpiry then maxExpiry = x end
          end
        end
        if seq <= mineSeq then
          return {2, mine, 0, epoch, 0, -1, waiters, ARGV[6], ARGV[7]}
        end

        local recovering = now < recoverUntil
        local n = active
        if keep > 0 or want > 0 or waiting > 0 then n = n + 1 end
        local fair = -1
        if n > 0 then fair = math.max(1, math.floor(coordinated / n)) end
        local extra = 0
        if want > 0 and not recovering then
          local limit = want
          if waiters > 0 then limit = math.min(limit, fair - keep) end
          extra = math.max(0, math.min(limit, coordinated - others - keep))
        end

        local grant = keep + extra
        if grant > 0 or waiting > 0 then
          local life = tonumber(ARGV[8])
          if grant == 0 then life = tonumber(ARGV[9]) end
          local expiry = now + life
          redis.call('HSET', KEYS[1], id, string.format('%d:%d:%d:%d', grant, expiry, waiting, seq))
          if expiry > maxExpiry then maxExpiry = expiry end
        else
          redis.call('HDEL', KEYS[1], id)
        end
        if maxExpiry > 0 then
          redis.call('PEXPIREAT', KEYS[1], string.format('%d', maxExpiry))
        else
          redis.call('DEL', KEYS[1])
        end

        local recoveringMs = 0
        if recovering then recoveringMs = recoverUntil - now end
        return {0, grant, extra, epoch, recoveringMs, fair, waiters, ARGV[6], ARGV[7]}
        """;
}
