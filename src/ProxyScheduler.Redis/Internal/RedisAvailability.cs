using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// Whether Redis answers, and what the configured <see cref="RedisUnavailablePolicy"/> makes of it while it does not:
/// local shares (<see cref="RedisUnavailablePolicy.FallbackToLocal"/>, at <see cref="RedisOptions.FallbackShare"/> of a
/// limit) or waits that end at <see cref="RedisOptions.UnavailableTimeout"/> (<see cref="RedisUnavailablePolicy.Pause"/>).
/// Every Redis operation reports here whether it got an answer; the first failure and the recovery are logged once.
/// </summary>
internal sealed class RedisAvailability
{
    private readonly object _sync = new();
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisCalls _calls;
    private bool _available = true;
    private long _unavailableSince;

    public RedisAvailability(RedisOptions options, TimeProvider time, ILogger logger, RedisCalls calls)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _calls = calls;
    }

    /// <summary>Gets or sets what to do when Redis answers again (take the local shares back); set once at start.</summary>
    public Action? Recovered { get; set; }

    /// <summary>Gets a value indicating whether Redis answered the last operation.</summary>
    public bool IsAvailable => Volatile.Read(ref _available);

    /// <summary>The share of a limit this worker takes alone while Redis is away and the policy is FallbackToLocal; <see langword="null"/> otherwise.</summary>
    public double? FallbackShare() =>
        !Volatile.Read(ref _available) && _options.WhenUnavailable == RedisUnavailablePolicy.FallbackToLocal ? _options.FallbackShare : null;

    /// <summary>
    /// Under the Pause policy, once Redis has been away for <see cref="RedisOptions.UnavailableTimeout"/>: the timestamp
    /// before which a want has waited too long (a want that began before the outage counts from its start).
    /// <see langword="null"/> while no want can have waited that long.
    /// </summary>
    public long? GiveUpCutoff(long now)
    {
        if (Volatile.Read(ref _available) || _options.WhenUnavailable != RedisUnavailablePolicy.Pause
            || _time.GetElapsedTime(Volatile.Read(ref _unavailableSince), now) < _options.UnavailableTimeout)
        {
            return null;
        }

        return now - (long)(_options.UnavailableTimeout.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>An operation got an answer: when Redis was away, it is back (logged, and <see cref="Recovered"/> runs).</summary>
    public void Succeeded()
    {
        if (Volatile.Read(ref _available))
        {
            return;
        }

        lock (_sync)
        {
            if (_available)
            {
                return;
            }

            Volatile.Write(ref _available, true);
        }

        // After the flag: an ask that still saw Redis away took its local shares before this, and they are taken back here.
        RedisLog.Recovered(_logger, _time.GetElapsedTime(_unavailableSince).TotalSeconds);
        Recovered?.Invoke();
    }

    /// <summary>An operation got no answer: Redis is away from now (logged once per outage).</summary>
    public void Failed(Exception ex)
    {
        _calls.Error();
        lock (_sync)
        {
            if (!_available)
            {
                return;
            }

            Volatile.Write(ref _unavailableSince, _time.GetTimestamp());
            Volatile.Write(ref _available, false);
        }

        RedisLog.Unavailable(_logger, _options.WhenUnavailable, ex.GetType().Name, ex.Message);
    }

    /// <summary>Runs a Redis operation whose failure only marks Redis away (the caller goes on).</summary>
    public async Task Guarded(Func<Task> operation)
    {
        try
        {
            await operation().ConfigureAwait(false);
            Succeeded();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
    }
}
