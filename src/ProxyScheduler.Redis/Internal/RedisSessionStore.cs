using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ProxyScheduler.Fleet;
using ProxyScheduler.Proxies.Sessions;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// Session bindings shared by the fleet: each session's proxy identity lives in a Redis hash (key: a SHA-256 of the
/// session key, never the key itself) that expires after the sessions' idle timeout. A request's session is read (and
/// its expiry renewed) in one round trip before it is queued, so a session keeps its proxy identity whichever worker
/// sends it; a new binding is written when it is made, only over no binding or the one it replaces. Without Redis,
/// sessions go on locally.
/// </summary>
internal sealed class RedisSessionStore : ISessionStore, ISessionBindingObserver
{
    private const string TouchScript = """
        local v = redis.call('HMGET', KEYS[1], 'proxy', 'bound')
        if v[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        return { v[1] or '', v[2] or '0' }
        """;

    private const string BindScript = """
        local current = redis.call('HGET', KEYS[1], 'proxy')
        if current and current ~= ARGV[3] and current ~= ARGV[1] then
          return 0
        end
        redis.call('HSET', KEYS[1], 'proxy', ARGV[1], 'bound', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return 1
        """;

    private const string UnbindScript = """
        if redis.call('HGET', KEYS[1], 'proxy') == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    /// <summary>How long a binding read from Redis is taken as current.</summary>
    private static readonly TimeSpan Freshness = TimeSpan.FromMilliseconds(250);

    private readonly InMemorySessionStore _local;
    private readonly RedisConnection _connection;
    private readonly RedisFleetCoordinator _coordinator;
    private readonly string _prefix;
    private readonly long _ttlMs;

    public RedisSessionStore(RedisConnection connection, RedisFleetCoordinator coordinator, string keyPrefix, SessionOptions sessions)
    {
        _connection = connection;
        _coordinator = coordinator;
        _prefix = keyPrefix + "session:";
        _ttlMs = (long)sessions.IdleTimeout.TotalMilliseconds;
        _local = new InMemorySessionStore(sessions.MaxSessions);
    }

    public int Count => _local.Count;

    public SessionState GetOrCreate(string key, DateTimeOffset now)
    {
        var session = _local.GetOrCreate(key, now);
        if (now - session.FleetReadAt < Freshness || !_connection.TryGetDatabase(out var db))
        {
            // Read a moment ago (a request resolves its session when queued, when it starts and at each attempt).
            return session;
        }

        session.FleetReadAt = now;

        try
        {
            _coordinator.CountCall("session");
            var values = (RedisResult[])db.ScriptEvaluate(TouchScript, [Key(key)], [_ttlMs])!;
            var proxy = (string?)values[0];
            if (!string.IsNullOrEmpty(proxy) && !string.Equals(proxy, session.ProxyId, StringComparison.Ordinal))
            {
                // Another worker bound (or rebound) the session: this one follows.
                var bound = long.TryParse((string?)values[1], CultureInfo.InvariantCulture, out var ms) && ms > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : now;
                lock (session)
                {
                    session.ProxyId = proxy;
                    session.BoundAt = bound;
                    session.Uses = 0;
                    session.BindingLost = false;
                    session.ExitLabel = null;
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is away: the session goes on with what this worker knows.
        }

        return session;
    }

    public bool Remove(string key)
    {
        if (_connection.TryGetDatabase(out var db))
        {
            _ = Guarded(db.KeyDeleteAsync(Key(key)));
        }

        return _local.Remove(key);
    }

    public void Bound(SessionState session, string? previousProxyId)
    {
        if (session.ProxyId is { } proxy && _connection.TryGetDatabase(out var db))
        {
            _coordinator.CountCall("session");
            _ = Guarded(db.ScriptEvaluateAsync(BindScript, [Key(session.Key)], [proxy, session.BoundAt.ToUnixTimeMilliseconds(), previousProxyId ?? string.Empty, _ttlMs]));
        }
    }

    public void Unbound(SessionState session, string proxyId)
    {
        if (_connection.TryGetDatabase(out var db))
        {
            _coordinator.CountCall("session");
            _ = Guarded(db.ScriptEvaluateAsync(UnbindScript, [Key(session.Key)], [proxyId]));
        }
    }

    private RedisKey Key(string sessionKey) =>
        _prefix + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sessionKey)).AsSpan(0, 16));

    private static async Task Guarded(Task operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Best effort: the next read converges.
        }
    }
}
