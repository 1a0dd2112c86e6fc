namespace ProxyScheduler.Politeness;

/// <summary>
/// robots.txt support (<c>ProxyScheduler:Robots</c>): off by default. When on, the scheduler fetches each host's
/// <c>/robots.txt</c> through itself (same limits, same proxy rules) before the host's first request, caches it, fails
/// requests its <c>Disallow</c> rules forbid for <see cref="UserAgent"/> (never sending them), and paces the host by its
/// <c>Crawl-delay</c>. A robots.txt answered with 4xx allows everything; one that cannot be read (5xx, 429, transport
/// failure) disallows everything until it is fetched again after <see cref="UnreachableRetryInterval"/>. At most
/// 500 KiB is parsed and at most five redirects are followed; the fetch is bounded by the attempt timeout.
/// </summary>
public sealed class RobotsOptions
{
    /// <summary>Gets or sets a value indicating whether robots.txt is obeyed.</summary>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the user agent whose group of rules applies (matched case-insensitively; the <c>*</c> group otherwise).</summary>
    public string UserAgent { get; set; } = "ProxyScheduler";

    /// <summary>Gets or sets how long a host's robots.txt is kept before it is fetched again.</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how soon a robots.txt that could not be read (a 5xx or 429 answer, a transport failure, no proxy, a
    /// fetch past the attempt timeout) is fetched again. Until then every path of the host is disallowed (RFC 9309,
    /// section 2.3.1.4), unless an earlier copy was read fine, which stays in force.
    /// </summary>
    public TimeSpan UnreachableRetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets the most hosts whose robots.txt is kept; past it the least recently used is forgotten.</summary>
    public int MaxHosts { get; set; } = 10_000;

    /// <summary>Gets or sets a value indicating whether <c>Crawl-delay</c> becomes the host's minimum delay between starts (when longer than the configured one).</summary>
    public bool ObeyCrawlDelay { get; set; } = true;

    /// <summary>Gets or sets the longest <c>Crawl-delay</c> obeyed; a longer one is capped.</summary>
    public TimeSpan MaxCrawlDelay { get; set; } = TimeSpan.FromMinutes(1);
}
