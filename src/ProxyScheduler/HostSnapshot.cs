namespace ProxyScheduler;

/// <summary>The state of one host (name and port) at one instant.</summary>
public sealed class HostSnapshot
{
    /// <summary>Initializes a new instance of the <see cref="HostSnapshot"/> class.</summary>
    /// <param name="host">The host key, <c>idn-host:port</c>.</param>
    /// <param name="queued">Attempts waiting for this host.</param>
    /// <param name="inFlight">Attempts in flight to this host.</param>
    /// <param name="maxConcurrency">This host's concurrency limit.</param>
    /// <param name="nextStartAt">The earliest time the next attempt may start, when a delay is pending.</param>
    public HostSnapshot(string host, int queued, int inFlight, int maxConcurrency, DateTimeOffset? nextStartAt)
    {
        Host = host;
        Queued = queued;
        InFlight = inFlight;
        MaxConcurrency = maxConcurrency;
        NextStartAt = nextStartAt;
    }

    /// <summary>Gets the host key, <c>idn-host:port</c>.</summary>
    public string Host { get; }

    /// <summary>Gets the attempts waiting for this host.</summary>
    public int Queued { get; }

    /// <summary>Gets the attempts in flight to this host.</summary>
    public int InFlight { get; }

    /// <summary>Gets this host's concurrency limit.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Gets the earliest time the next attempt may start, when a delay is pending.</summary>
    public DateTimeOffset? NextStartAt { get; }

    /// <summary>Gets the time until which the host is paused by a <c>Retry-After</c> it sent, when it is.</summary>
    public DateTimeOffset? PausedUntil { get; init; }

    /// <summary>Gets the host's rate limit in attempt starts per second, when it has one.</summary>
    public double? RateLimit { get; init; }

    /// <summary>Gets the most attempts in flight to the host now: the adaptive limit of an adaptive host, else <see cref="MaxConcurrency"/>.</summary>
    public int ConcurrencyLimit { get; init; }

    /// <summary>Gets the spacing an adaptive host keeps between starts since it pushed back; <see langword="null"/> for none.</summary>
    public TimeSpan? AdaptiveDelay { get; init; }

    /// <summary>
    /// Gets, in distributed mode, the shares of the host's fleet-wide limit this process holds (the most attempts it may
    /// have in flight to the host); <see langword="null"/> when the process is not part of a fleet.
    /// </summary>
    public int? FleetShares { get; init; }

    /// <summary>
    /// Gets, while the host is judged down (its attempts failed through several proxies, or directly; see
    /// <see cref="HostHealthOptions"/>), the end of its current break, after which one probe goes; <see langword="null"/> while it is up.
    /// </summary>
    public DateTimeOffset? DownUntil { get; init; }

    /// <summary>Gets, while the host is down, what its failures were; <see langword="null"/> while it is up.</summary>
    public string? DownReason { get; init; }

    /// <summary>Gets, while the host's queued requests find no proxy available (quarantined, retired or resting for the host), since when; <see langword="null"/> otherwise.</summary>
    public DateTimeOffset? WaitingForProxySince { get; init; }

    /// <summary>Describes the host's counts.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"{Host}: {InFlight}/{MaxConcurrency} in flight, {Queued} queued{(DownUntil is null ? string.Empty : ", down")}{(WaitingForProxySince is null ? string.Empty : ", waiting for a proxy")}";
}
