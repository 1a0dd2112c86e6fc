namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>The per-host gauges of <see cref="SchedulerMetrics.ObserveHosts"/>: which value of a host the dispatcher measures.</summary>
internal enum HostGauge
{
    /// <summary>Attempts waiting for the host (queued and held by post-processing).</summary>
    QueueDepth,

    /// <summary>Attempts in flight to the host.</summary>
    InFlight,

    /// <summary>1 while the host is judged down, else 0.</summary>
    IsDown,

    /// <summary>The host's concurrency limit now.</summary>
    ConcurrencyLimit,
}
