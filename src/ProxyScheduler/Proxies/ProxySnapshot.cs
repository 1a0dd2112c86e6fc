namespace ProxyScheduler.Proxies;

/// <summary>One proxy of the pool at one instant. Carries no credential.</summary>
public sealed class ProxySnapshot
{
    internal ProxySnapshot(
        string id,
        string address,
        ProxyHealthState state,
        int inFlight,
        int maxConcurrency,
        double successRate,
        TimeSpan latency,
        int consecutiveFailures,
        int quarantines,
        DateTimeOffset? reanimationAt,
        long attempts)
    {
        Id = id;
        Address = address;
        State = state;
        InFlight = inFlight;
        MaxConcurrency = maxConcurrency;
        SuccessRate = successRate;
        Latency = latency;
        ConsecutiveFailures = consecutiveFailures;
        Quarantines = quarantines;
        ReanimationAt = reanimationAt;
        Attempts = attempts;
    }

    /// <summary>Gets the proxy's opaque id.</summary>
    public string Id { get; }

    /// <summary>Gets the proxy's address with any credentials shown as <c>***</c>.</summary>
    public string Address { get; }

    /// <summary>Gets the proxy's state.</summary>
    public ProxyHealthState State { get; }

    /// <summary>Gets the attempts in flight through the proxy.</summary>
    public int InFlight { get; }

    /// <summary>Gets the most attempts the proxy may carry at once.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Gets the decaying average of attempts through the proxy that did not fail at the proxy, 0 to 1.</summary>
    public double SuccessRate { get; }

    /// <summary>Gets the decaying average latency of successful attempts.</summary>
    public TimeSpan Latency { get; }

    /// <summary>Gets the proxy failures in a row.</summary>
    public int ConsecutiveFailures { get; }

    /// <summary>Gets the quarantines in a row without a success in between.</summary>
    public int Quarantines { get; }

    /// <summary>Gets, while quarantined, when the proxy gets its probe.</summary>
    public DateTimeOffset? ReanimationAt { get; }

    /// <summary>
    /// Gets the proxy's overall health score, 0 to 1, as the selectors weigh it (before any per-host record): its success
    /// rate with old failures fading, discounted by its latency (<c>success / (1 + latency in seconds)</c>); 0 unless healthy.
    /// </summary>
    public double Score { get; init; }

    /// <summary>Gets the attempts the proxy has carried.</summary>
    public long Attempts { get; }

    /// <summary>
    /// Gets the attempts through the proxy that the target answered (any status: the proxy did its job), over the proxy's
    /// life. <see cref="Attempts"/> = <see cref="Answered"/> + <see cref="ProxyFailures"/> + <see cref="PairFailures"/> +
    /// <see cref="HostFailures"/> + attempts in flight or cancelled before they ended.
    /// </summary>
    public long Answered { get; init; }

    /// <summary>Gets the failed attempts blamed on the proxy itself (refused, reset or timed out before it answered, 407, its own 5xx).</summary>
    public long ProxyFailures { get; init; }

    /// <summary>Gets the failed attempts charged to a (proxy, host) pair: the host failed through this proxy while other proxies reached it.</summary>
    public long PairFailures { get; init; }

    /// <summary>Gets the failed attempts blamed on the host (it failed the same way through other proxies): they do not move the proxy's health.</summary>
    public long HostFailures { get; init; }

    /// <summary>Gets what the last failure blamed on the proxy looked like ("connection refused", "timed out", ...), or <see langword="null"/>.</summary>
    public string? LastFailure { get; init; }

    /// <summary>Gets the failed attempts through the proxy (whoever was blamed) by what they looked like ("connection refused", "connection reset", "timed out", ...).</summary>
    public IReadOnlyDictionary<string, long> FailuresByKind { get; init; } = new Dictionary<string, long>();

    /// <inheritdoc />
    public override string ToString() => $"{Address} {State} in-flight {InFlight}/{MaxConcurrency} success {SuccessRate:P0} score {Score:0.###}";
}
