namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The Lua scripts of distributed mode. Each runs atomically in Redis and reads the server's clock (<c>TIME</c>), so
/// workers' clocks never matter. A host's leases are a sorted set of <c>worker:seq</c> members scored by their expiry
/// (ms); the workers waiting for shares of it are a sorted set scored the same way.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// Holds a worker's name. KEYS: worker key. ARGV: instance token, ttl ms. Sets the key to the token when free (or
    /// extends it when already this token's) and returns the token holding it.
    /// </summary>
    public const string ClaimWorker = """
        local held = redis.call('GET', KEYS[1])
        if (not held) or held == ARGV[1] then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
          return ARGV[1]
        end
        return held
        """;

    /// <summary>
    /// Takes up to n shares of a host. KEYS: leases, wants, pause. ARGV: worker, n, limit, ttl ms, first sequence number.
    /// Returns { granted, workers waiting, pause-until (ms, or ''), server time (ms) }.
    /// </summary>
    public const string Acquire = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local n = tonumber(ARGV[2])
        local free = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1])
        local granted = math.max(0, math.min(n, free))
        local seq = tonumber(ARGV[5])
        for i = 1, granted do
          redis.call('ZADD', KEYS[1], now + ttl, ARGV[1] .. ':' .. (seq + i))
        end
        if granted < n then
          redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
        else
          redis.call('ZREM', KEYS[2], ARGV[1])
        end
        redis.call('PEXPIRE', KEYS[1], ttl * 3)
        if redis.call('EXISTS', KEYS[2]) == 1 then
          redis.call('PEXPIRE', KEYS[2], ttl * 3)
        end
        local pause = redis.call('GET', KEYS[3])
        return { granted, redis.call('ZCARD', KEYS[2]), pause or '', now }
        """;

    /// <summary>
    /// Gives shares back. KEYS: leases, wants. ARGV: channel, resource, ttl ms, members... Each share given back goes
    /// straight to a waiting worker when there is one (a new lease in its name, announced on the channel as
    /// <c>granted|resource|worker|member</c>), so waiting workers never race for a freed share. Returns the number of
    /// members removed.
    /// </summary>
    public const string Release = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local removed = 0
        for i = 4, #ARGV do
          if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
            removed = removed + 1
            local waiting = redis.call('ZRANGE', KEYS[2], 0, 0)
            if waiting[1] then
              local member = waiting[1] .. ':h' .. redis.call('INCR', KEYS[1] .. ':seq')
              redis.call('ZADD', KEYS[1], now + ttl, member)
              redis.call('ZREM', KEYS[2], waiting[1])
              redis.call('PUBLISH', ARGV[1], 'granted|' .. ARGV[2] .. '|' .. waiting[1] .. '|' .. member)
            end
          end
        end
        redis.call('PEXPIRE', KEYS[1] .. ':seq', ttl * 3)
        return removed
        """;

    /// <summary>
    /// Renews a worker's leases. KEYS: leases and wants of each host, in pairs. ARGV: ttl ms, worker, then per host the
    /// member count followed by the members. Returns per host { lost members..., } and the number of workers waiting,
    /// flattened as { lostCount, lost..., waiting } per host. Also keeps the worker's place among the waiting.
    /// </summary>
    public const string Renew = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        local pos = 3
        local out = {}
        for k = 1, #KEYS, 2 do
          local count = tonumber(ARGV[pos])
          pos = pos + 1
          local lost = {}
          for i = 1, count do
            local member = ARGV[pos]
            pos = pos + 1
            local score = redis.call('ZSCORE', KEYS[k], member)
            if score and tonumber(score) > now then
              redis.call('ZADD', KEYS[k], now + ttl, member)
            else
              redis.call('ZREM', KEYS[k], member)
              lost[#lost + 1] = member
            end
          end
          redis.call('PEXPIRE', KEYS[k], ttl * 3)
          redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now)
          if redis.call('ZSCORE', KEYS[k + 1], ARGV[2]) then
            redis.call('ZADD', KEYS[k + 1], now + ttl, ARGV[2])
          end
          out[#out + 1] = #lost
          for i = 1, #lost do
            out[#out + 1] = lost[i]
          end
          out[#out + 1] = redis.call('ZCARD', KEYS[k + 1])
        end
        return out
        """;

    /// <summary>Records a host's pause if it ends later than the one recorded. KEYS: pause. ARGV: until (ms, unix). Returns 1 when recorded.</summary>
    public const string Pause = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local untilMs = tonumber(ARGV[1])
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if untilMs <= now or untilMs <= current then
          return 0
        end
        redis.call('SET', KEYS[1], untilMs, 'PX', untilMs - now)
        return 1
        """;

    /// <summary>
    /// Takes up to n start tokens from a host's fleet-wide token bucket. KEYS: bucket. ARGV: rate per second, burst, n,
    /// key TTL ms. Returns { granted, ms until the next token when fewer than n were granted }.
    /// </summary>
    public const string Tokens = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rate = tonumber(ARGV[1]) / 1000
        local burst = tonumber(ARGV[2])
        local n = tonumber(ARGV[3])
        local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(v[1]) or burst
        local at = tonumber(v[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
        local granted = math.max(0, math.min(n, math.floor(tokens)))
        tokens = tokens - granted
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        local wait = 0
        if granted < n then
          wait = math.ceil((1 - tokens) / rate)
        end
        return { granted, wait }
        """;
}
