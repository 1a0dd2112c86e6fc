namespace ProxyScheduler.Diagnostics;

/// <summary>The thresholds of the proxy pool's health check (<c>AddHealthCheck</c>).</summary>
public sealed class ProxyPoolHealthCheckOptions
{
    /// <summary>
    /// Gets or sets the share of the pool's proxies (draining ones not counted) that must be healthy for the check to
    /// report <c>Healthy</c>; below it the check reports <c>Degraded</c>. With no healthy proxy at all it reports the
    /// registration's failure status (<c>Unhealthy</c> by default), whatever this share.
    /// </summary>
    /// <value>The default value is 0.5. Between 0 and 1.</value>
    public double DegradedBelow { get; set; } = 0.5;
}
