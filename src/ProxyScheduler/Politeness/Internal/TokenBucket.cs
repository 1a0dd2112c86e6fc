namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// A token bucket refilled lazily on a <see cref="TimeProvider"/>'s timestamps: a host's rate limit and an adaptive
/// host's pacing. Guarded by the dispatcher's lock.
/// </summary>
internal sealed class TokenBucket
{
    private double _tokens;
    private long _at;
    private bool _started;

    /// <summary>
    /// Takes a token for a start at <paramref name="now"/> (the bucket holds <paramref name="initial"/> tokens at its
    /// first start, and at most <paramref name="burst"/>); returns how long until the next token when none is left.
    /// </summary>
    public TimeSpan? Take(double rate, double burst, double initial, long now, TimeProvider time)
    {
        _tokens = _started ? Math.Min(burst, _tokens + (time.GetElapsedTime(_at, now).TotalSeconds * rate)) : initial;
        _started = true;
        _at = now;
        _tokens--;
        return _tokens >= 1 ? null : TimeSpan.FromSeconds((1 - _tokens) / rate);
    }
}
