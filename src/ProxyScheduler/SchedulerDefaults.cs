namespace ProxyScheduler;

/// <summary>Defaults and bounds of the scheduler options, shared by the options, their attributes and the validator.</summary>
internal static class SchedulerDefaults
{
    public const int MaxConcurrency = 64;
    public const int MaxConcurrencyUpperBound = 100_000;
    public const int QueueLimit = 10_000;
    public const int QueueLimitUpperBound = 10_000_000;
    public const int HostMaxConcurrency = 8;
    public const long MaxResponseBodySize = 16L * 1024 * 1024;
    public const long MaxResponseBodySizeUpperBound = int.MaxValue;
    public const int MaxRedirects = 10;
    public const int MaxRedirectsUpperBound = 50;
    public const int MaxRetries = 3;
    public const int MaxProxyRetries = 5;
    public const int MaxRetriesUpperBound = 100;
    public const string MinTimeoutText = "00:00:00.001";
    public const string MaxTimeoutText = "1.00:00:00";
    public const string MaxDelayText = "1.00:00:00";

    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MinTimeout = TimeSpan.Parse(MinTimeoutText, System.Globalization.CultureInfo.InvariantCulture);
    public static readonly TimeSpan MaxTimeout = TimeSpan.Parse(MaxTimeoutText, System.Globalization.CultureInfo.InvariantCulture);
    public static readonly TimeSpan MaxDelay = TimeSpan.Parse(MaxDelayText, System.Globalization.CultureInfo.InvariantCulture);
    public static readonly TimeSpan RetryBaseDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan RetryMaxDelay = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan RateLimitPeriod = TimeSpan.FromSeconds(1);
    public const double RateLimitUpperBound = 1_000_000;
    public const int RateLimitBurstUpperBound = 1_000_000;

    /// <summary>How long an idle host keeps its state (delays) before it is forgotten.</summary>
    public static readonly TimeSpan HostIdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The most idle hosts remembered; past it the oldest idle host whose delay has passed is forgotten.</summary>
    public const int MaxIdleHosts = 10_000;

    /// <summary>The most hosts given series of their own by <see cref="ProxySchedulerOptions.PerHostMetrics"/>; later ones get none.</summary>
    public const int MaxMetricHosts = 1_000;
}
