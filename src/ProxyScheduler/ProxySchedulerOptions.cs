using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler;

/// <summary>
/// Options of the scheduler, bound from the <c>ProxyScheduler</c> configuration section and validated at start-up:
/// every invalid setting is reported at once, by its configuration key and its value.
/// </summary>
public sealed class ProxySchedulerOptions
{
    /// <summary>The default configuration section name, <c>ProxyScheduler</c>.</summary>
    public const string SectionName = "ProxyScheduler";

    /// <summary>Gets or sets the most attempts in flight at once, across all hosts.</summary>
    /// <value>The default value is 64.</value>
    [Range(1, SchedulerDefaults.MaxConcurrencyUpperBound)]
    public int MaxConcurrency { get; set; } = SchedulerDefaults.MaxConcurrency;

    /// <summary>
    /// Gets or sets the most requests the scheduler holds at once: queued, in flight, or waiting for a retry.
    /// <c>SendAsync</c> waits for room; <c>SendAllAsync</c> reads its source only when there is room.
    /// Must be at least <see cref="MaxConcurrency"/>.
    /// </summary>
    /// <value>The default value is 10,000.</value>
    [Range(1, SchedulerDefaults.QueueLimitUpperBound)]
    public int QueueLimit { get; set; } = SchedulerDefaults.QueueLimit;

    /// <summary>Gets or sets the limits of every host that no entry of <see cref="Hosts"/> matches, and the values those entries inherit.</summary>
    public HostOptions DefaultHost { get; set; } = new();

    /// <summary>
    /// Gets the per-host overrides, keyed by host pattern: <c>example.com</c> (that host on any port),
    /// <c>*.example.com</c> (any subdomain, not example.com itself), or either with <c>:port</c> (set from code; a colon
    /// cannot appear in a configuration key). An exact host wins over a wildcard, a longer wildcard over a shorter one,
    /// and a pattern with a port over one without. Unset values are inherited from <see cref="DefaultHost"/>.
    /// </summary>
    public IDictionary<string, HostOptions> Hosts { get; } = new Dictionary<string, HostOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the timeout of each attempt, from its dispatch to the end of its buffered response.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), SchedulerDefaults.MinTimeoutText, SchedulerDefaults.MaxTimeoutText)]
    public TimeSpan AttemptTimeout { get; set; } = SchedulerDefaults.AttemptTimeout;

    /// <summary>
    /// Gets or sets the default overall deadline of a request, from submission to completion (queueing, retries and
    /// redirects included); <see cref="ScheduledRequest.Deadline"/> overrides it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no deadline beyond the attempt timeouts and retry budget.</value>
    [Range(typeof(TimeSpan), SchedulerDefaults.MinTimeoutText, SchedulerDefaults.MaxTimeoutText)]
    public TimeSpan? Deadline { get; set; }

    /// <summary>Gets or sets the largest response body, in bytes, that is buffered; a larger one fails the request.</summary>
    /// <value>The default value is 16 MiB (16,777,216).</value>
    [Range(1, SchedulerDefaults.MaxResponseBodySizeUpperBound)]
    public long MaxResponseBodySize { get; set; } = SchedulerDefaults.MaxResponseBodySize;

    /// <summary>
    /// Gets or sets how many redirects a request follows; 0 returns redirect responses as they are.
    /// The scheduler follows redirects itself, so each hop goes through the target host's limits.
    /// </summary>
    /// <value>The default value is 10.</value>
    [Range(0, SchedulerDefaults.MaxRedirectsUpperBound)]
    public int MaxRedirects { get; set; } = SchedulerDefaults.MaxRedirects;

    /// <summary>Gets or sets the retry policy for transient failures.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// Gets the proxies listed in configuration (<c>ProxyScheduler:Proxies</c>), one a entry in any format
    /// <see cref="Proxies.ProxyEndpoint.Parse"/> accepts; re-read when the configuration reloads. When this list or any
    /// other proxy source is configured, requests go through proxies unless they ask for
    /// <see cref="Proxies.ProxyRequirement.Direct"/>.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IList<string> Proxies { get; } = [];

    /// <summary>
    /// Gets the host patterns (as in <see cref="Hosts"/>: <c>example.com</c>, <c>*.example.com</c>, optionally with a
    /// port) whose hosts get series of their own, tagged <c>server.address</c> and <c>server.port</c>, on the per-host
    /// gauges (<c>proxyscheduler.host.queue.depth</c>, <c>.host.requests.in_flight</c>, <c>.host.concurrency.limit</c>).
    /// Host names are unbounded cardinality, so no host gets them unless listed here, and at most 1,000 hosts do.
    /// </summary>
    /// <value>The default value is empty: no per-host series.</value>
    public IList<string> PerHostMetrics { get; } = [];

    /// <summary>Gets or sets the options of the proxy pool.</summary>
    public Proxies.ProxyPoolOptions ProxyPool { get; set; } = new();

    /// <summary>Gets or sets the options of sticky sessions.</summary>
    public Proxies.Sessions.SessionOptions Sessions { get; set; } = new();

    /// <summary>Gets or sets the options of response classification.</summary>
    public Classification.ClassificationOptions Classification { get; set; } = new();

    /// <summary>Gets or sets the robots.txt support (off by default).</summary>
    public Politeness.RobotsOptions Robots { get; set; } = new();

    /// <summary>Gets or sets when a host is judged down or too slow, and how it is probed and brought back.</summary>
    public HostHealthOptions HostHealth { get; set; } = new();

    /// <summary>Gets or sets the options post-processing pipelines start from: degree of parallelism, capacity, ordering.</summary>
    public Processing.PostProcessingOptions PostProcessing { get; set; } = new();
}
