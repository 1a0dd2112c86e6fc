using System.ComponentModel.DataAnnotations;
using ProxyScheduler.Scheduling.Internal;

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

    /// <summary>Gets or sets the name of the <see cref="Classification.IResponseClassifier"/> for this host.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is <see cref="ProxySchedulerOptions.Classification"/>'s classifier.</value>
    public string? Classifier { get; set; }

    /// <summary>Gets or sets the body markers (for example <c>captcha</c>) that mean a block on this host, for the default classifier; replaces the global markers.</summary>
    /// <value>The default value is <see langword="null"/>: inherited; the built-in default is <see cref="Classification.ClassificationOptions.BlockMarkers"/>.</value>
#pragma warning disable CA2227 // Bound from configuration, where null means "inherit".
    public IList<string>? BlockMarkers { get; set; }
#pragma warning restore CA2227
}
