namespace ProxyScheduler;

/// <summary>A consistent picture of the scheduler at one instant.</summary>
public sealed class SchedulerSnapshot
{
    /// <summary>Initializes a new instance of the <see cref="SchedulerSnapshot"/> class.</summary>
    /// <param name="pending">Requests admitted and not yet completed.</param>
    /// <param name="queued">Attempts waiting in host queues.</param>
    /// <param name="inFlight">Attempts in flight.</param>
    /// <param name="maxConcurrency">The global concurrency limit.</param>
    /// <param name="hosts">The per-host states.</param>
    public SchedulerSnapshot(int pending, int queued, int inFlight, int maxConcurrency, IReadOnlyList<HostSnapshot> hosts)
    {
        Pending = pending;
        Queued = queued;
        InFlight = inFlight;
        MaxConcurrency = maxConcurrency;
        Hosts = hosts ?? [];
    }

    /// <summary>Gets the requests admitted and not yet completed (queued, in flight, or waiting for a retry); at most <see cref="ProxySchedulerOptions.QueueLimit"/>.</summary>
    public int Pending { get; }

    /// <summary>Gets the attempts waiting in host queues for a dispatch.</summary>
    public int Queued { get; }

    /// <summary>Gets the attempts in flight; at most <see cref="MaxConcurrency"/>.</summary>
    public int InFlight { get; }

    /// <summary>Gets the global concurrency limit.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Gets the hosts with queued or in-flight work, or that were active recently.</summary>
    public IReadOnlyList<HostSnapshot> Hosts { get; }

    /// <summary>Gets the proxies of the pool (retired ones included); empty when no proxies are configured.</summary>
    public IReadOnlyList<Proxies.ProxySnapshot> Proxies { get; init; } = [];

    /// <summary>Gets the sessions held by the session store (bound to a proxy identity or waiting for their next request).</summary>
    public int Sessions { get; init; }
}
