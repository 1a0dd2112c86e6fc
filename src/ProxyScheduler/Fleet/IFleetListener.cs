namespace ProxyScheduler.Fleet;

/// <summary>
/// What a <see cref="IFleetCoordinator"/> may call back: the answers to its requests (shares, tokens), what other
/// processes learned (pauses, proxy health) and its clock. Implemented by the dispatcher; each call takes the
/// dispatcher's lock for a short, bounded time and never calls the coordinator back synchronously while it holds it
/// beyond recording a request.
/// </summary>
internal interface IFleetListener
{
    /// <summary>
    /// Shares every host's limit with other processes through <paramref name="fleet"/>: from now on a host starts at most
    /// as many attempts as the shares it holds, asks for more when its work exceeds them, and gives back the ones it has
    /// not used for <paramref name="shareLinger"/> (at once when other processes wait for them). Called once, before any request.
    /// </summary>
    void AttachFleet(IFleetCoordinator fleet, TimeSpan shareLinger);

    /// <summary>
    /// The fleet granted <paramref name="granted"/> of the shares the host asked for (the rest stay asked for);
    /// <paramref name="contended"/> says whether other processes wait for its shares, <paramref name="fairShare"/> how
    /// many this process should keep then (0: unknown, the last known one stays).
    /// </summary>
    void GrantShares(HostKey key, int granted, bool contended, int fairShare);

    /// <summary>The fleet took <paramref name="count"/> of the host's shares back (their leases expired): fewer attempts may start.</summary>
    void RevokeShares(HostKey key, int count);

    /// <summary>Updates whether other processes wait for the host's shares, and gives back what this process should not keep.</summary>
    void SetContention(HostKey key, bool contended, int fairShare);

    /// <summary>The fleet granted <paramref name="granted"/> start tokens of the host's rate limit.</summary>
    void GrantTokens(HostKey key, int granted);

    /// <summary>The fleet granted <paramref name="granted"/> shares of a proxy's (or gateway account's) limit.</summary>
    void GrantProxyShares(string proxyId, int granted);

    /// <summary>The fleet took <paramref name="count"/> shares of a proxy back (their leases expired).</summary>
    void RevokeProxyShares(string proxyId, int count);

    /// <summary>The fleet granted start tokens of a paced proxy.</summary>
    void GrantProxyTokens(string proxyId, int granted);

    /// <summary>Gives back the shares that have gone unused for the linger time; called by the coordinator's clock.</summary>
    void SweepShares();

    /// <summary>Another process saw a <c>Retry-After</c> from the host: no attempt starts to it until <paramref name="until"/>.</summary>
    void ApplyFleetPause(HostKey key, DateTimeOffset until);

    /// <summary>Applies what another process learned about a proxy and dispatches what it allows.</summary>
    void ApplyProxyEvent(ProxyFleetEvent change);

    /// <summary>
    /// Fails every request queued for the host with <paramref name="reason"/> (the fleet could not give the host a share
    /// for too long). Returns how many failed.
    /// </summary>
    int FailQueued(HostKey key, RequestFailureReason reason, string message);
}
