using ProxyScheduler.Fleet;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The round trips of the fleet's start-token buckets (rate-limited hosts, paced proxies): takes the tokens the
/// <see cref="LeaseBook"/> says are wanted (or, by the fallback policy, this worker's share of the rate locally).
/// </summary>
internal sealed class RedisTokenClient
{
    private readonly RedisKeys _keys;
    private readonly LeaseBook _book;
    private readonly RedisAvailability _availability;
    private readonly RedisCalls _calls;
    private readonly TimeProvider _time;

    public RedisTokenClient(RedisKeys keys, LeaseBook book, RedisAvailability availability, RedisCalls calls, TimeProvider time)
    {
        _keys = keys;
        _book = book;
        _availability = availability;
        _calls = calls;
        _time = time;
    }

    /// <summary>Gets or sets the listener granted tokens go to (set once, when the coordinator is attached).</summary>
    public IFleetListener Listener { get; set; } = null!;

    /// <summary>Takes start tokens from the fleet's buckets for the rate-limited hosts that wait for them.</summary>
    public async Task TokensAsync(IDatabase db)
    {
        var (asks, local) = _book.TakeTokenAsks(_time.GetTimestamp(), _availability.FallbackShare);
        foreach (var (host, count) in local)
        {
            Listener.GrantTokens(host, count);
        }

        await Task.WhenAll(asks.Select(async a =>
        {
            RedisResult[] result;
            try
            {
                _calls.Count("tokens");
                var ttl = (long)Math.Max(60_000, a.Burst / a.Rate * 2_000);
                result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Tokens, [_keys.Bucket(a.Resource)], [a.Rate, a.Burst, a.Count, ttl]).ConfigureAwait(false))!;
                _availability.Succeeded();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _availability.Failed(ex);
                _book.TokensFailed(a.Resource, _time.GetTimestamp());
                return;
            }

            var granted = (int)result[0];
            var waitMs = (long)result[1];
            _book.TokensAnswered(a.Resource, granted, waitMs, a.Count, _time.GetTimestamp());
            if (granted > 0)
            {
                Listener.GrantTokens(a.Resource, granted);
            }
        })).ConfigureAwait(false);
    }
}
