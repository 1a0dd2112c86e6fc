using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler;

/// <summary>
/// Limits for one host (name and port). Values left <see langword="null"/> in an entry of
/// <see cref="ProxySchedulerOptions.Hosts"/> are inherited from <see cref="ProxySchedulerOptions.DefaultHost"/>,
/// and those left <see langword="null"/> there take the built-in defaults.
/// </summary>
public sealed class HostOptions
{
    /// <summary>Gets or sets the most attempts in flight to the host at once.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is 8.</value>
    [Range(1, SchedulerDefaults.MaxConcurrencyUpperBound)]
    public int? MaxConcurrency { get; set; }

    /// <summary>Gets or sets the minimum time between the starts of two attempts to the host.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is zero (no delay).</value>
    [Range(typeof(TimeSpan), "00:00:00", SchedulerDefaults.MaxDelayText)]
    public TimeSpan? MinDelay { get; set; }

    /// <summary>Gets or sets the largest random time added to <see cref="MinDelay"/> before each start (uniform between zero and this value).</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is zero (no jitter).</value>
    [Range(typeof(TimeSpan), "00:00:00", SchedulerDefaults.MaxDelayText)]
    public TimeSpan? MaxJitter { get; set; }

    /// <summary>
    /// Gets or sets the most attempt starts to the host per <see cref="RateLimitPeriod"/>, on average (a token bucket on
    /// the scheduler's <see cref="TimeProvider"/>): for example <c>10</c> with a period of one second, or <c>600</c> with
    /// a period of one minute. Applies next to <see cref="MaxConcurrency"/> and <see cref="MinDelay"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is no rate limit.</value>
    public double? RateLimit { get; set; }

    /// <summary>Gets or sets the period of <see cref="RateLimit"/>.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is one second.</value>
    public TimeSpan? RateLimitPeriod { get; set; }

    /// <summary>
    /// Gets or sets how many starts may follow one another at once when the host has been quiet (the bucket's size);
    /// over any stretch of time <c>t</c> the starts never exceed <c>RateLimitBurst + RateLimit × t / RateLimitPeriod</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is 1 (evenly spaced starts).</value>
    public int? RateLimitBurst { get; set; }

    /// <summary>
    /// Gets or sets the longest pause a <c>Retry-After</c> (seconds or HTTP-date, on a 429 or 503) imposes on the host:
    /// until then no attempt starts to the host through any proxy, while other hosts carry on. Zero ignores
    /// <c>Retry-After</c> for the host's pacing (a request's own retry still honours it).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is five minutes.</value>
    public TimeSpan? MaxRetryAfter { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the host's concurrency and pacing adapt to its answers (AIMD): they grow
    /// while the host answers well and shrink on 429, 503 or a latency far above its baseline, never above
    /// <see cref="MaxConcurrency"/> nor below one attempt at a time. A burst of 429s from attempts already in flight
    /// counts once. The current values are in <see cref="HostSnapshot.ConcurrencyLimit"/> and <see cref="HostSnapshot.AdaptiveDelay"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is <see langword="false"/>.</value>
    public bool? Adaptive { get; set; }

    /// <summary>Gets or sets the name of the <see cref="Classification.IResponseClassifier"/> for this host.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is <see cref="ProxySchedulerOptions.Classification"/>'s classifier.</value>
    public string? Classifier { get; set; }

    /// <summary>Gets or sets the body markers (for example <c>captcha</c>) that mean a block on this host, for the default classifier; replaces the global markers.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is <see cref="Classification.ClassificationOptions.BlockMarkers"/>.</value>
#pragma warning disable CA2227 // Bound from configuration, where null means "inherit".
    public IList<string>? BlockMarkers { get; set; }
#pragma warning restore CA2227
}
