using System.Globalization;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Fleet;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The round trips of share leases: asking Redis for the shares the <see cref="LeaseBook"/> says are wanted (or, by the
/// fallback policy, granting them locally), giving back returned ones, renewing held ones every third of the TTL, and
/// forgetting them all when they could not be renewed for a whole TTL. Each answer goes to the book and to the listener.
/// </summary>
internal sealed class RedisLeaseClient
{
    private readonly RedisOptions _options;
    private readonly RedisKeys _keys;
    private readonly string _workerId;
    private readonly LeaseBook _book;
    private readonly RedisAvailability _availability;
    private readonly RedisCalls _calls;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _lastRenewed;
    private long _nextRenew;

    public RedisLeaseClient(RedisOptions options, RedisKeys keys, string workerId, LeaseBook book, RedisAvailability availability, RedisCalls calls, TimeProvider time, ILogger logger)
    {
        _options = options;
        _keys = keys;
        _workerId = workerId;
        _book = book;
        _availability = availability;
        _calls = calls;
        _time = time;
        _logger = logger;
    }

    /// <summary>Gets or sets the listener grants and revocations go to (set once, when the coordinator is attached).</summary>
    public IFleetListener Listener { get; set; } = null!;

    /// <summary>Asks for (or grants locally) the shares the book says are wanted now.</summary>
    public async Task AcquireAsync(IDatabase db)
    {
        var (asks, local) = _book.TakeShareAsks(_time.GetTimestamp(), _availability.FallbackShare);
        foreach (var (host, granted) in local)
        {
            Listener.Grant(host, granted, contended: false, int.MaxValue);
        }

        if (asks.Count > 0)
        {
            await Task.WhenAll(asks.Select(a => AcquireOneAsync(db, a.Resource, a.Count, a.Limit, a.Sequence))).ConfigureAwait(false);
        }
    }

    private async Task AcquireOneAsync(IDatabase db, Resource host, int count, int limit, long sequence)
    {
        RedisResult[] result;
        try
        {
            _calls.Count("acquire");
            result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Acquire, [_keys.Leases(host), _keys.Wants(host), _keys.Pause(host)],
                [_workerId, count, limit, (long)_options.LeaseTtl.TotalMilliseconds, sequence]).ConfigureAwait(false))!;
            _availability.Succeeded();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _availability.Failed(ex);
            _book.AskFailed(host, _time.GetTimestamp());
            return;
        }

        var granted = (int)result[0];
        var waiting = (int)result[1];
        var pause = (string?)result[2];
        var (contended, fair) = _book.Acquired(host, granted, waiting, count, limit, sequence, _workerId, _time.GetTimestamp());
        if (!host.IsProxy && !string.IsNullOrEmpty(pause) && long.TryParse(pause, CultureInfo.InvariantCulture, out var untilMs))
        {
            Listener.ApplyFleetPause(host.Host, DateTimeOffset.FromUnixTimeMilliseconds(untilMs));
        }

        if (granted > 0)
        {
            Listener.Grant(host, granted, contended, fair);
        }
        else
        {
            Listener.Contention(host, contended, fair);
        }
    }

    /// <summary>Gives back the shares returned since the last round.</summary>
    public async Task ReturnAsync(IDatabase db)
    {
        var releases = _book.TakeReturns();
        if (releases.Count > 0)
        {
            await Task.WhenAll(releases.Select(r => _availability.Guarded(() => ReleaseAsync(db, r.Resource, r.Members)))).ConfigureAwait(false);
        }
    }

    public async Task RenewAsync(IDatabase db)
    {
        var now = _time.GetTimestamp();
        if (now < _nextRenew)
        {
            return;
        }

        _nextRenew = now + (long)(_options.LeaseTtl.TotalSeconds / 3 * _time.TimestampFrequency);
        var held = _book.Held();

        if (held.Count == 0)
        {
            _lastRenewed = now;
            return;
        }

        RedisResult[] result;
        try
        {
            _calls.Count("renew");
            var keys = held.SelectMany(h => new[] { _keys.Leases(h.Resource), _keys.Wants(h.Resource) }).ToArray();
            var args = new List<RedisValue> { (long)_options.LeaseTtl.TotalMilliseconds, _workerId };
            foreach (var (_, members, _, _) in held)
            {
                args.Add(members.Length);
                args.AddRange(members.Select(m => (RedisValue)m));
            }

            result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Renew, keys, [.. args]).ConfigureAwait(false))!;
            _availability.Succeeded();
            _lastRenewed = now;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _availability.Failed(ex);
            _nextRenew = now + (long)(0.5 * _time.TimestampFrequency);
            if (_time.GetElapsedTime(_lastRenewed, now) >= _options.LeaseTtl)
            {
                // Not renewed for a whole TTL: Redis has let them go (or will); using them could exceed the limit.
                RevokeAll();
            }

            return;
        }

        var at = 0;
        List<(Resource Host, int Lost, bool Contended, int Fair)> updates = [];
        foreach (var (host, _, limit, wanting) in held)
        {
            var lostCount = (int)result[at++];
            var lost = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < lostCount; i++)
            {
                lost.Add((string)result[at++]!);
            }

            var waiting = (int)result[at++];
            var (removed, contended, fair) = _book.Renewed(host, lost, waiting, limit, wanting);
            updates.Add((host, removed, contended, fair));
        }

        foreach (var (host, lostShares, contended, fair) in updates)
        {
            if (lostShares > 0)
            {
                RedisLog.LeasesLost(_logger, host.Text, lostShares);
                Listener.Revoke(host, lostShares);
            }

            Listener.Contention(host, contended, fair);
        }
    }

    /// <summary>Forgets every lease (not renewed for a whole TTL): the listener loses them.</summary>
    public void RevokeAll()
    {
        foreach (var (resource, members) in _book.TakeAllLeases())
        {
            Listener.Revoke(resource, members.Length);
        }
    }

    /// <summary>Releases <paramref name="members"/> of <paramref name="host"/> in Redis (a waiting worker is handed them).</summary>
    public Task<RedisResult> ReleaseAsync(IDatabase db, Resource host, string[] members)
    {
        _calls.Count("release");
        RedisValue[] args = [(RedisValue)_keys.ChannelName, host.ToString(), (long)_options.LeaseTtl.TotalMilliseconds, .. members.Select(m => (RedisValue)m)];
        return db.ScriptEvaluateAsync(RedisScripts.Release, [_keys.Leases(host), _keys.Wants(host)], args);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
