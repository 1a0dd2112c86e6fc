using System.ComponentModel.DataAnnotations;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Proxies;

/// <summary>
/// Options of the proxy pool: selection, per-proxy limits, health, quarantine, retirement, outages and spread.
/// Bound from <c>ProxyScheduler:ProxyPool</c>.
/// </summary>
public sealed class ProxyPoolOptions
{
    /// <summary>Gets or sets the name of the <see cref="IProxySelector"/>: <c>PowerOfTwoChoices</c>, <c>RoundRobin</c>, <c>LeastInFlight</c>, <c>Random</c>, or a registered one.</summary>
    /// <value>The default value is <c>PowerOfTwoChoices</c>.</value>
    [Required]
    public string Selector { get; set; } = ProxyPoolDefaults.Selector;

    /// <summary>Gets or sets the most attempts in flight through one proxy, for proxies that set no <see cref="ProxyEndpoint.MaxConcurrency"/>.</summary>
    /// <value>The default value is 32.</value>
    [Range(1, 100_000)]
    public int MaxConcurrencyPerProxy { get; set; } = ProxyPoolDefaults.MaxConcurrencyPerProxy;

    /// <summary>Gets or sets the minimum time between two attempt starts through one proxy, for proxies that set no <see cref="ProxyEndpoint.MinDelay"/>.</summary>
    /// <value>The default value is zero.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MinDelayPerProxy { get; set; }

    /// <summary>Gets or sets how many proxy failures in a row quarantine a proxy.</summary>
    /// <value>The default value is 3.</value>
    [Range(1, 1000)]
    public int QuarantineAfter { get; set; } = ProxyPoolDefaults.QuarantineAfter;

    /// <summary>Gets or sets the first quarantine; each quarantine in a row doubles it (with ±20 % jitter) up to <see cref="QuarantineMaxDelay"/>.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan QuarantineBaseDelay { get; set; } = ProxyPoolDefaults.QuarantineBaseDelay;

    /// <summary>Gets or sets the longest quarantine. Must be at least <see cref="QuarantineBaseDelay"/>.</summary>
    /// <value>The default value is 30 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan QuarantineMaxDelay { get; set; } = ProxyPoolDefaults.QuarantineMaxDelay;

    /// <summary>
    /// Gets or sets after how many quarantines in a row (each ended by a failed probe) a proxy is retired. Retirement is
    /// suspended during a provider-wide outage.
    /// </summary>
    /// <value>The default value is 6.</value>
    [Range(1, 1000)]
    public int RetireAfter { get; set; } = ProxyPoolDefaults.RetireAfter;

    /// <summary>Gets or sets how long a host blocks a proxy at first (after a <see cref="Classification.ResponseClass.Blocked"/> answer); each block in a row doubles it.</summary>
    /// <value>The default value is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan BlockBaseDuration { get; set; } = ProxyPoolDefaults.BlockBaseDuration;

    /// <summary>Gets or sets the longest per-host block. Must be at least <see cref="BlockBaseDuration"/>.</summary>
    /// <value>The default value is 2 hours.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "30.00:00:00")]
    public TimeSpan BlockMaxDuration { get; set; } = ProxyPoolDefaults.BlockMaxDuration;

    /// <summary>Gets or sets the half-life with which old successes and failures fade from a proxy's health.</summary>
    /// <value>The default value is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan HealthHalfLife { get; set; } = ProxyPoolDefaults.HealthHalfLife;

    /// <summary>Gets or sets what a request does when every proxy able to serve it is quarantined.</summary>
    /// <value>The default value is <see cref="ProxyUnavailableBehavior.Wait"/> (bounded by <see cref="MaxWaitForProxy"/> and the request's deadline).</value>
    public ProxyUnavailableBehavior WhenUnavailable { get; set; } = ProxyUnavailableBehavior.Wait;

    /// <summary>
    /// Gets or sets how long a request waits while no proxy able to serve it is available (all quarantined, retired, or
    /// blocked by its host; merely busy proxies do not count). Past it the request fails with
    /// <see cref="RequestFailureReason.ProxiesUnavailable"/> and a message that says how many proxies could serve it, how
    /// many are quarantined and why, and when the next probe is due. <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// The bound counts from when the host's requests began to find no proxy: a failed probe of a quarantined proxy does
    /// not restart it, and a request that arrives (or is retried) during an outage waits only what is left of it.
    /// </summary>
    /// <value>The default value is 1 minute.</value>
    public TimeSpan MaxWaitForProxy { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets the share of quarantined proxies at which the pool declares a provider-wide outage: dispatch through
    /// proxies pauses (only probes go out) and no proxy is retired until the share falls again.
    /// </summary>
    /// <value>The default value is 0.8.</value>
    [Range(0.01, 1.0)]
    public double OutageThreshold { get; set; } = ProxyPoolDefaults.OutageThreshold;

    /// <summary>Gets or sets the fewest active proxies for which an outage can be declared.</summary>
    /// <value>The default value is 4.</value>
    [Range(1, 1_000_000)]
    public int OutageMinProxies { get; set; } = ProxyPoolDefaults.OutageMinProxies;

    /// <summary>
    /// Gets or sets the tag that groups proxies for spreading (for example <c>asn</c>); <see langword="null"/> groups them by
    /// subnet (/24 for IPv4, /48 for IPv6, the name's parent domain for host names).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: by subnet.</value>
    public string? GroupBy { get; set; }

    /// <summary>
    /// Gets or sets the largest share of one host's in-flight attempts that one group may carry while proxies of other
    /// groups are available; 1 turns spreading off.
    /// </summary>
    /// <value>The default value is 0.5.</value>
    [Range(0.01, 1.0)]
    public double MaxGroupShare { get; set; } = ProxyPoolDefaults.MaxGroupShare;

    /// <summary>Gets or sets the most proxies (identities, each with its own connection pool) the pool holds; more fail the provider's update.</summary>
    /// <value>The default value is 100,000.</value>
    [Range(1, 10_000_000)]
    public int MaxProxies { get; set; } = ProxyPoolDefaults.MaxProxies;

    /// <summary>Gets or sets the most (proxy, host) health records kept; past it the oldest are forgotten.</summary>
    /// <value>The default value is 100,000.</value>
    [Range(16, 100_000_000)]
    public int MaxHostHealthEntries { get; set; } = ProxyPoolDefaults.MaxHostHealthEntries;

    /// <summary>Gets or sets a callback run (on the thread pool) when a proxy is quarantined, reanimated, retired or drained. Also logged.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<ProxyStateChangedArguments, ValueTask>? OnProxyStateChanged { get; set; }
}
