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

    /// <summary>Gets how many hosts are judged down now (see <see cref="HostSnapshot.DownUntil"/>).</summary>
    public int HostsDown { get; init; }

    /// <summary>Gets how many queued requests wait because no proxy able to serve them is available (quarantined, retired, or resting for their host; not merely busy).</summary>
    public int WaitingForProxy { get; init; }

    /// <summary>
    /// Gets, while requests wait for a proxy, what they wait for: how many proxies could serve, how many are quarantined
    /// and why, and when the next probe is due (for example <c>2 proxies can serve 'any'; 2 of 2 quarantined (2 connection
    /// refused); next probe in 8 s</c>); <see langword="null"/> when nothing waits for a proxy.
    /// </summary>
    public string? WaitingForProxyReason { get; init; }
}
