namespace ProxyScheduler.Proxies.Internal;

/// <summary>The pool's state for one proxy identity. Guarded by the dispatcher's lock (fields are read outside it only for snapshots of transport state).</summary>
internal sealed class ProxyNode
{
    public ProxyNode(ProxyEndpoint endpoint, int maxConcurrency, long minDelayTicks, int groupId, string clientName)
    {
        Endpoint = endpoint;
        MaxConcurrency = maxConcurrency;
        MinDelayTicks = minDelayTicks;
        GroupId = groupId;
        ClientName = clientName;
    }

    public ProxyEndpoint Endpoint { get; }

    /// <summary>Gets the opaque <c>IHttpClientFactory</c> client name of this identity.</summary>
    public string ClientName { get; }

    public int MaxConcurrency { get; }

    /// <summary>Gets the most attempts the proxy may carry now: <see cref="MaxConcurrency"/>, or fewer in a fleet (its shares of it).</summary>
    public int Limit => FleetShares is { } shares ? Math.Min(MaxConcurrency, shares) : MaxConcurrency;

    /// <summary>Gets or sets, in distributed mode, the shares of the proxy's limit this process holds; <see langword="null"/> otherwise.</summary>
    public int? FleetShares { get; set; }

    /// <summary>Gets or sets a value indicating whether shares were asked for and not answered yet.</summary>
    public bool FleetWanted { get; set; }

    /// <summary>Gets or sets the start tokens of the fleet's pacing of this proxy this process holds.</summary>
    public int FleetTokens { get; set; }

    /// <summary>Gets or sets a value indicating whether a token was asked for and not granted yet.</summary>
    public bool TokensWanted { get; set; }

    /// <summary>Gets a value indicating whether the fleet paces this proxy (a listed proxy with a minimum delay, in a fleet).</summary>
    public bool FleetPaced => FleetShares is not null && MinDelayTicks > 0 && Parent is null;

    /// <summary>Gets or sets when the proxy's shares first exceeded its use; 0 while they do not.</summary>
    public long SurplusSince { get; set; }

    public long MinDelayTicks { get; }

    /// <summary>Gets the spread group (subnet or tag value), as a small integer.</summary>
    public int GroupId { get; }

    public int InFlight { get; set; }

    /// <summary>The timestamp before which no attempt may start through this proxy.</summary>
    public long NextStart { get; set; }

    public ProxyHealthState State { get; set; }

    /// <summary>Decaying average of attempts that did not fail at the proxy (1 = perfect).</summary>
    public double Success { get; set; } = 1.0;

    /// <summary>Decaying average latency of successful attempts, in timestamp ticks.</summary>
    public double LatencyTicks { get; set; }

    public long LastSample { get; set; }

    public int ConsecutiveFailures { get; set; }

    /// <summary>Quarantines in a row without a success in between.</summary>
    public int Quarantines { get; set; }

    public long QuarantinedUntil { get; set; }

    /// <summary>Whether the proxy's probe request is in flight.</summary>
    public bool ProbeInFlight { get; set; }

    /// <summary>Whether the proxy waits in the pool's list of proxies due for a probe.</summary>
    public bool ProbeDue { get; set; }

    /// <summary>Whether the proxy has left the pool (drained or retired and without in-flight attempts).</summary>
    public bool Removed { get; set; }

    public long Attempts { get; set; }

    /// <summary>Gets or sets the gateway node this identity was rendered from (a session's identity), or <see langword="null"/>.</summary>
    public ProxyNode? Parent { get; set; }

    /// <summary>Gets or sets the timestamp after which a rendered gateway identity must not start new attempts (the provider's session lifetime); 0 for none.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Gets or sets how many (proxy, host) health records this proxy has; lookups are skipped while it has none.</summary>
    public int HostRecords { get; set; }

    /// <summary>Gets or sets the number of latency samples taken (capped), to tell a first sample from the rest.</summary>
    public int LatencySamples { get; set; }

    /// <summary>Gets or sets how many different hosts saw contradicted target failures through this proxy in a row (since its last success).</summary>
    public int PairFailureHosts { get; set; }

    /// <summary>Gets or sets the contradicted target failures through this proxy since it last carried an attempt to a host and back.</summary>
    public int PairFailureRun { get; set; }

    /// <summary>Gets or sets the host of the proxy's last contradicted target failure.</summary>
    public HostKey LastPairFailureHost { get; set; }

    /// <summary>Gets or sets what the proxy's last failure blamed on it looked like (for the explanation of a wait).</summary>
    public Classification.Internal.FailureKind LastFailure { get; set; }

    /// <summary>Gets or sets the failures blamed on the proxy itself, over its life.</summary>
    public long ProxyBlamed { get; set; }

    /// <summary>Gets or sets the target failures through the proxy charged to the (proxy, host) pair, over its life.</summary>
    public long PairBlamed { get; set; }

    /// <summary>Gets or sets the target failures through the proxy charged to the host (the proxy not blamed), over its life.</summary>
    public long HostBlamed { get; set; }

    /// <summary>Gets the failures through the proxy (blamed on it, on a pair or on a host) by <see cref="Classification.Internal.FailureKind"/>, over its life.</summary>
    public long[] FailuresByKind { get; } = new long[(int)Classification.Internal.FailureKind.Other + 1];

    /// <summary>Gets or sets the attempts through the proxy the target answered (any status), over its life.</summary>
    public long Answered { get; set; }

    public override string ToString() => Endpoint.ToString();
}
