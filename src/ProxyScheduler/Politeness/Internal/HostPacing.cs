using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// Decides when a host may start its next attempt: its rate limit (a token bucket), its adaptive spacing, its minimum
/// delay with jitter or its robots.txt crawl delay (the longer), and a <c>Retry-After</c> pause (capped); and teaches the
/// adaptive limit from each outcome. Pure policy over the state it is handed (the host's settings, bucket, adaptive
/// limit, next start); called under the dispatcher's lock with <c>now</c> passed in.
/// </summary>
internal sealed class HostPacing
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public HostPacing(TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// An attempt to the host starts at <paramref name="now"/>: returns the host's next start. A local rate limit takes a
    /// token of <paramref name="bucket"/> (created on first use; when none is left the next start waits for the next
    /// one); <paramref name="tokensFromFleet"/> says the fleet's bucket paces the host instead. The adaptive limit may
    /// space starts, and the minimum delay (plus jitter) or the crawl delay, whichever is longer, follows every start.
    /// </summary>
    public long NextStartAfterStart(HostSettings settings, ref TokenBucket? bucket, bool tokensFromFleet, AdaptiveLimit? adaptive, TimeSpan crawlDelay, long nextStart, long now)
    {
        if (!tokensFromFleet && settings.StartsPerSecond is { } rate)
        {
            bucket ??= new TokenBucket();
            if (bucket.Take(rate, settings.Burst, settings.Burst, now, _time) is { } wait)
            {
                nextStart = Math.Max(nextStart, now + _time.ToTimestampTicks(wait));
            }
        }

        if (adaptive is not null && adaptive.OnStart(now, _time) is { } spacing)
        {
            nextStart = Math.Max(nextStart, now + _time.ToTimestampTicks(spacing));
        }

        if (settings.HasDelay || crawlDelay > TimeSpan.Zero)
        {
            var delay = settings.MinDelay > crawlDelay ? settings.MinDelay : crawlDelay;
            if (settings.MaxJitter > TimeSpan.Zero)
            {
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
                delay += TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * settings.MaxJitter.Ticks));
#pragma warning restore CA5394
            }

            nextStart = now + _time.ToTimestampTicks(delay);
        }

        return nextStart;
    }

    /// <summary>
    /// A <c>Retry-After</c> of <paramref name="pause"/> (already capped) from the host at <paramref name="now"/>: the
    /// timestamp no attempt may start before, or <see langword="null"/> when the host's next start is later already.
    /// </summary>
    public long? PauseEnd(HostKey host, TimeSpan pause, long nextStart, long now)
    {
        var until = now + _time.ToTimestampTicks(pause);
        if (until <= nextStart)
        {
            return null;
        }

        Log.HostPaused(_logger, host.ToString(), _time.GetElapsedTime(now, until).TotalMilliseconds);
        return until;
    }

    /// <summary>
    /// Another process of the fleet saw a <c>Retry-After</c> from the host, ending at <paramref name="until"/> (wall
    /// clock): the timestamp no attempt may start before, or <see langword="null"/> when it has passed or the host's next
    /// start is later already.
    /// </summary>
    public long? FleetPauseEnd(DateTimeOffset until, long nextStart, long now)
    {
        var remaining = until - _time.GetUtcNow();
        if (remaining <= TimeSpan.Zero)
        {
            return null;
        }

        var end = now + _time.ToTimestampTicks(remaining);
        return end > nextStart ? end : null;
    }

    /// <summary>Teaches the host's adaptive limit the outcome of an attempt (started as the host's <paramref name="seq"/>-th) and logs a change of its limit.</summary>
    public void Learn(HostKey host, AdaptiveLimit adaptive, ResponseClass outcome, long seq, long startSeq, long latencyTicks, long now)
    {
        var (oldLimit, oldDecreases) = (adaptive.Concurrency, adaptive.Decreases);
        adaptive.OnOutcome(outcome, seq, startSeq, _time.GetElapsedTime(0, latencyTicks), now, _time);
        if (adaptive.Decreases != oldDecreases)
        {
            Log.AdaptiveLimitDecreased(_logger, host.ToString(), outcome == ResponseClass.Throttled ? "throttled" : "latency rose",
                oldLimit, adaptive.Concurrency, adaptive.Rate ?? 0);
        }
        else if (adaptive.Concurrency != oldLimit && _logger.IsEnabled(LogLevel.Debug))
        {
            Log.AdaptiveLimitIncreased(_logger, host.ToString(), oldLimit, adaptive.Concurrency);
        }
    }
}
