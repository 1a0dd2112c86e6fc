using System.ComponentModel.DataAnnotations;

namespace ProxyScheduler;

/// <summary>
/// When a host is judged down or too slow, and what happens then (<c>ProxyScheduler:HostHealth</c>). Attempts that fail
/// at the target (timeouts, resets, stalls, 5xx) are weighed against what other proxies saw of the same host: when they
/// fail through two or more proxies (or directly) and no proxy reached the host meanwhile, the host is down. A down host
/// gets no new attempt until its break ends, then one probe: a success brings it back, a failure doubles the break.
/// A host that is down never moves a proxy's health.
/// </summary>
public sealed class HostHealthOptions
{
    /// <summary>
    /// Gets or sets how many failures without an answer in a row (timeouts, resets, refusals at the target; a 5xx answer
    /// does not count), with no answer in between, mark a host down; 0 turns the host circuit off.
    /// </summary>
    /// <value>The default value is 3.</value>
    [Range(0, 1000)]
    public int FailureThreshold { get; set; } = 3;

    /// <summary>Gets or sets the first break of a host that is down; each failed probe doubles it up to <see cref="MaxBreakDuration"/>.</summary>
    /// <value>The default value is 2 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets the longest break of a host that is down.</summary>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxBreakDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets how long requests wait for a host that stays down: when a probe fails after the host has been down
    /// this long, the requests queued for it fail with <see cref="RequestFailureReason.HostUnavailable"/>. Use
    /// <see cref="Timeout.InfiniteTimeSpan"/> to wait as long as the host stays down.
    /// </summary>
    /// <value>The default value is 1 minute.</value>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(1);
}
