using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler;

/// <summary>
/// Retries of transient failures (connection errors, attempt timeouts, 408, 429, 5xx except 501 and 505) with
/// exponential backoff and jitter, within the request's deadline. Each retry goes back through the host's limits.
/// A <c>Retry-After</c> header on 429 or 503 sets the delay (capped by <see cref="MaxDelay"/>).
/// </summary>
public sealed class RetryOptions
{
    /// <summary>Gets or sets the most retries after the first attempt; 0 turns retries off.</summary>
    /// <value>The default value is 3.</value>
    [Range(0, SchedulerDefaults.MaxRetriesUpperBound)]
    public int MaxRetries { get; set; } = SchedulerDefaults.MaxRetries;

    /// <summary>
    /// Gets or sets the most retries after proxy failures and blocks, counted apart from <see cref="MaxRetries"/>, which
    /// counts retries after target failures and throttling. Every retry prefers a proxy the request has not tried: at
    /// once after a proxy failure; once every proxy able to serve has failed the request, the least recently failed one
    /// serves again after the backoff (a blocked request is retried only on an untried proxy).
    /// </summary>
    /// <value>The default value is 5.</value>
    [Range(0, SchedulerDefaults.MaxRetriesUpperBound)]
    public int MaxProxyRetries { get; set; } = SchedulerDefaults.MaxProxyRetries;

    /// <summary>Gets or sets the delay before the first retry; later delays grow exponentially.</summary>
    /// <value>The default value is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00", SchedulerDefaults.MaxDelayText)]
    public TimeSpan BaseDelay { get; set; } = SchedulerDefaults.RetryBaseDelay;

    /// <summary>Gets or sets the longest delay between two attempts; must be at least <see cref="BaseDelay"/>.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", SchedulerDefaults.MaxDelayText)]
    public TimeSpan MaxDelay { get; set; } = SchedulerDefaults.RetryMaxDelay;

    /// <summary>Gets or sets a value indicating whether delays are randomized, so that retries of many requests spread out.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether requests whose method is not idempotent (POST, PATCH) are retried after
    /// a response or a failure that may have reached the server. A connection that was never made is always retried.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool RetryNonIdempotent { get; set; }
}
