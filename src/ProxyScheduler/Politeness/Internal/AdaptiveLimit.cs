using ProxyScheduler.Classification;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// The adaptive concurrency and pacing of one host (AIMD, driven by the host's own answers). Guarded by the dispatcher's lock.
/// </summary>
/// <remarks>
/// <para>
/// Two quantities adapt: the concurrency limit (between 1 and the configured <c>MaxConcurrency</c>) and a pacing rate
/// (starts per second; none until the host first pushes back). A good answer raises them additively: the limit by one
/// per limit's worth of good answers (by one per answer in the initial slow start, which begins at 2 so that the
/// first burst stays small), the rate by the larger of a tenth of its value at the last decrease and 35 % of its value
/// now, per second. A throttling signal (429 or 503, <c>Retry-After: 0</c> included; or two good answers in a row whose
/// latency rose far above the host's baseline: four times it, and a quarter of a second more) multiplies the limit by 0.7 and the rate by 0.85 (the rate measured over the
/// last starts when there was none yet).
/// </para>
/// <para>
/// Only attempts started after the last decrease can cause another: a burst of 429s from requests that were already in
/// flight is one signal, not N (the failure that makes naive AIMD collapse to 1).
/// </para>
/// </remarks>
internal sealed class AdaptiveLimit
{
    private const double Decrease = 0.7;
    private const double RateDecrease = 0.85;
    private const double RateGrowth = 0.35;
    private const double InitialLimit = 2;
    private const double MinRate = 0.1;
    private const double SlowFactor = 4;
    private const double SlowMarginSeconds = 0.25;
    private const int Window = 32;
    private const double PacingBurst = 3;

    private readonly int _ceiling;
    private readonly long[] _starts = new long[Window];
    private double _limit;
    private bool _slowStart = true;
    private double _rate = double.PositiveInfinity;
    private double _rateAtDecrease;
    private long _decreasedAtSeq;
    private double _baseline = double.NaN;
    private int _startCount;
    private readonly TokenBucket _pacing = new();
    private int _slowStreak;

    public AdaptiveLimit(int ceiling)
    {
        _ceiling = ceiling;
        _limit = Math.Min(ceiling, InitialLimit);
    }

    /// <summary>Gets the concurrency limit now.</summary>
    public int Concurrency => Math.Clamp((int)_limit, 1, _ceiling);

    /// <summary>Gets the pacing rate in starts per second; <see langword="null"/> while the host never pushed back.</summary>
    public double? Rate => double.IsPositiveInfinity(_rate) ? null : _rate;

    /// <summary>Gets the number of decreases so far.</summary>
    public int Decreases { get; private set; }

    /// <summary>
    /// Notes a start; returns how long to wait before the next one, if the host is paced. The pacing is a token bucket
    /// of three at the rate, so starts that timers let go a little late are made up for by the next ones.
    /// </summary>
    public TimeSpan? OnStart(long now, TimeProvider time)
    {
        _starts[_startCount++ % Window] = now;
        if (Rate is not { } rate)
        {
            return null;
        }

        return _pacing.Take(rate, PacingBurst, initial: 1, now, time);
    }

    /// <summary>Adapts to the outcome of an attempt started as the host's <paramref name="seq"/>-th.</summary>
    public void OnOutcome(ResponseClass outcome, long seq, long currentSeq, TimeSpan latency, long now, TimeProvider time)
    {
        var slow = false;
        if (outcome == ResponseClass.Success)
        {
            var seconds = latency.TotalSeconds;
            if (!double.IsNaN(_baseline) && seconds > Math.Max(_baseline * SlowFactor, _baseline + SlowMarginSeconds))
            {
                // One slow answer is a hiccup (a pause of the client, a cold cache); two in a row are a trend.
                slow = ++_slowStreak >= 2;
            }
            else
            {
                _slowStreak = 0;
                _baseline = double.IsNaN(_baseline) ? seconds : (_baseline * 0.9) + (seconds * 0.1);
            }
        }

        if (outcome == ResponseClass.Throttled || slow)
        {
            if (seq <= _decreasedAtSeq)
            {
                // Started before the last decrease: the same push-back, already answered.
                return;
            }

            _slowStart = false;
            var basis = _rate;
            if (double.IsPositiveInfinity(basis))
            {
                // The first push-back: from the rate measured over the last starts, or what the limit allowed at the
                // host's usual latency if that is more (a slow start or a stall makes the measure too low, and a rate
                // cut too low takes long to climb back, while one too high is cut again at the next 429).
                basis = MeasuredRate(now, time);
                if (!double.IsNaN(_baseline))
                {
                    basis = Math.Max(basis, _limit / Math.Max(_baseline, 0.001));
                }
            }

            _limit = Math.Max(1, _limit * Decrease);
            if (basis > 0)
            {
                _rate = Math.Max(MinRate, basis * RateDecrease);
                _rateAtDecrease = _rate;
            }

            _decreasedAtSeq = currentSeq;
            Decreases++;
            return;
        }

        if (outcome != ResponseClass.Success)
        {
            // Failures of the target or a proxy, blocks: not the host's pacing signals.
            return;
        }

        _limit = Math.Min(_ceiling, _limit + (_slowStart ? 1 : 1 / _limit));
        if (!double.IsPositiveInfinity(_rate))
        {
            // Per second of good answers (about rate of them): a tenth of the rate at the last decrease, or a fifth of
            // the rate now when that is more, so that a rate cut while the host was still warming up climbs back fast.
            _rate += Math.Max(Math.Max(_rateAtDecrease * 0.1, _rate * RateGrowth), MinRate) / _rate;
        }
    }

    /// <summary>The starts per second over the last <see cref="Window"/> starts; 0 when there are too few.</summary>
    private double MeasuredRate(long now, TimeProvider time)
    {
        var n = Math.Min(_startCount, Window);
        if (n < 2)
        {
            return 0;
        }

        var oldest = _starts[(_startCount - n) % Window];
        var span = time.GetElapsedTime(oldest, now).TotalSeconds;
        return span <= 0 ? 0 : n / span;
    }
}
