using ProxyScheduler.Politeness.Internal;










namespace ProxyScheduler.Dispatch;

/// <summary>The dispatcher's state for one host. Guarded by the dispatcher's lock.</summary>
internal sealed class HostState : Proxies.Internal.ITargetHost
{
    public HostState(HostKey key, HostSettings settings)
    {
        Key = key;
        Settings = settings;
    }

    public HostKey Key { get; }

    public HostSettings Settings { get; }

    /// <summary>Waiting attempts, highest priority first, FIFO among equals; canceled ones are skipped lazily.</summary>
    public HostQueue Queue { get; } = new();

    /// <summary>Live (not canceled) waiters in <see cref="Queue"/>.</summary>
    public int Count { get; set; }

    /// <summary>Canceled waiters still in <see cref="Queue"/>.</summary>
    public int Garbage { get; set; }

    /// <summary>Waiters of this host held by a full <see cref="ProcessingGate"/> (out of <see cref="Queue"/>, still queued for the counts).</summary>
    public int Held { get; set; }

    public int InFlight { get; set; }

    /// <summary>The timestamp before which no attempt may start (min delay plus jitter).</summary>
    public long NextStart { get; set; }

    /// <summary>The timestamp the timer is armed for; 0 when it is not armed.</summary>
    public long TimerDue { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>Gets or sets the rate limit's bucket; created at the host's first start when it has a rate limit.</summary>
    public TokenBucket? RateBucket;

    /// <summary>Gets or sets the host's robots.txt <c>Crawl-delay</c>; zero for none.</summary>
    public TimeSpan CrawlDelay { get; set; }

    /// <summary>Gets or sets the number of attempts started to the host.</summary>
    public long StartSeq { get; set; }

    /// <summary>Gets the adaptive limits of the host, when its settings ask for them.</summary>
    public AdaptiveLimit? Adaptive { get; init; }

    /// <summary>Gets the most attempts in flight to the host now: the adaptive limit, or the configured one.</summary>
    public int Limit => Circuit is { IsDown: true } ? Math.Min(1, FleetOrBaseLimit) : FleetOrBaseLimit;

    private int FleetOrBaseLimit => Fleet ? Math.Min(BaseLimit, Shares) : BaseLimit;

    /// <summary>Gets or sets what the host's attempts say of its health (up, or down with its break and probes); created at its first target failure.</summary>
    public HostCircuit? Circuit { get; set; }

    /// <summary>Gets the host's own limit now: the adaptive limit, or the configured one (the fleet's shares not counted).</summary>
    public int BaseLimit => Adaptive is { } adaptive ? adaptive.Concurrency : Settings.MaxConcurrency;

    /// <summary>Gets a value indicating whether a fleet coordinator shares this host's limit between processes.</summary>
    public bool Fleet { get; init; }

    /// <summary>Gets or sets the fleet shares this process holds for the host: the most attempts it may have in flight to it.</summary>
    public int Shares { get; set; }

    /// <summary>Gets or sets the shares asked for and not answered yet.</summary>
    public int SharesWanted { get; set; }

    /// <summary>Gets or sets a value indicating whether other processes wait for this host's shares (so spare ones go back at once).</summary>
    public bool Contended { get; set; }

    /// <summary>Gets or sets the most shares this process should keep while the host is contended.</summary>
    public int FairShare { get; set; } = int.MaxValue;

    /// <summary>Gets or sets the start tokens of the fleet's rate limit this process holds for the host (a rate-limited host in a fleet).</summary>
    public int FleetTokens { get; set; }

    /// <summary>Gets or sets a value indicating whether tokens were asked for and not granted yet.</summary>
    public bool TokensWanted { get; set; }

    /// <summary>Gets a value indicating whether the host waits for the fleet's start tokens: it has a rate limit and none left.</summary>
    public bool WaitsForTokens => Fleet && FleetTokens <= 0 && Settings.StartsPerSecond is not null;

    /// <summary>Gets or sets when the host's shares first exceeded its use; 0 while they do not.</summary>
    public long SurplusSince { get; set; }

    /// <summary>Gets or sets the timestamp until which a <c>Retry-After</c> pauses the host; 0 for none.</summary>
    public long PausedUntil { get; set; }

    /// <summary>Gets or sets the tags of the host's own metric series; <see langword="null"/> when it is not on the allow-list.</summary>
    public KeyValuePair<string, object?>[]? MetricTags { get; set; }

    public bool InReady { get; set; }

    public bool InIdleQueue { get; set; }

    public long IdleSince { get; set; }

    public bool Removed { get; set; }

    /// <summary>Gets or sets since when the host's waiters find no proxy available (all quarantined, retired or resting for the host); 0 while they do.</summary>
    public long NoProxySince { get; set; }

    /// <summary>Gets or sets when a waiter of the host last found no proxy available (ends a stale episode of <see cref="NoProxySince"/>).</summary>
    public long NoProxySeenAt { get; set; }

    /// <summary>Whether the host waits in the dispatcher's list of hosts whose waiters found no proxy.</summary>
    public bool Parked { get; set; }

    /// <summary>In-flight attempts of this host per proxy spread group; <see langword="null"/> until the pool has two groups.</summary>
    public Dictionary<int, int>? ProxyGroups { get; set; }

    public Dispatcher? Owner { get; init; }

    public bool IsIdle => Count == 0 && InFlight == 0 && Held == 0 && Shares == 0 && SharesWanted == 0 && !TokensWanted;
}
