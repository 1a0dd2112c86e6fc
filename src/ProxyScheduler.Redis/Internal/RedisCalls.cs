using System.Diagnostics.Metrics;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// Counts the Redis round trips of distributed mode by operation (acquire, release, renew, tokens, session, publish,
/// ping, claim, subscribe) and the failed ones, as metrics and as a total the benchmark and the tests read.
/// </summary>
internal sealed class RedisCalls : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _errors;
    private long _roundTrips;

    /// <param name="meters">The meter factory; a meter of its own when none.</param>
    /// <param name="available">Reads whether Redis answers now, for the availability gauge.</param>
    public RedisCalls(IMeterFactory? meters, Func<bool> available)
    {
        _meter = meters?.Create("ProxyScheduler") ?? new Meter("ProxyScheduler");
        _calls = _meter.CreateCounter<long>("proxyscheduler.redis.calls", "{call}", "Redis round trips of distributed mode, by operation (acquire, release, renew, tokens, session, publish, ping).");
        _errors = _meter.CreateCounter<long>("proxyscheduler.redis.errors", "{error}", "Redis operations that failed (connection, timeout).");
        _meter.CreateObservableGauge("proxyscheduler.redis.available", () => available() ? 1 : 0, "{state}", "1 while Redis answers, 0 while it does not (the unavailable policy applies).");
    }

    /// <summary>Gets the round trips made so far.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Counts <paramref name="n"/> round trips of <paramref name="operation"/>.</summary>
    public void Count(string operation, int n = 1)
    {
        Interlocked.Add(ref _roundTrips, n);
        _calls.Add(n, new KeyValuePair<string, object?>("operation", operation));
    }

    /// <summary>Counts a failed operation.</summary>
    public void Error() => _errors.Add(1);

    public void Dispose() => _meter.Dispose();
}
