namespace ProxyScheduler.Fleet;

/// <summary>
/// The port fleet-wide coordination plugs into (implemented by ProxyScheduler.Redis): the share of each host's and each
/// proxy's concurrency this process may use, and the signals other processes must see (Retry-After pauses, proxy health).
/// The dispatcher and the proxy pool call these methods under their lock: they must only record the request and return;
/// the coordinator answers later through the <see cref="IFleetListener"/> it was attached to.
/// </summary>
internal interface IFleetCoordinator
{
    /// <summary>Connects the coordinator to the scheduler it serves (once, when the scheduler is built); it calls <see cref="IFleetListener.AttachFleet"/> back.</summary>
    void Attach(IFleetListener listener);

    /// <summary>The host wants <paramref name="count"/> more shares; the fleet-wide limit of the host is <paramref name="limit"/>.</summary>
    void WantShares(HostKey host, int count, int limit);

    /// <summary>
    /// The host (which has a rate limit) wants <paramref name="count"/> start tokens from the fleet's bucket of
    /// <paramref name="rate"/> starts per second and <paramref name="burst"/> tokens; answered by <see cref="IFleetListener.GrantTokens"/>.
    /// </summary>
    void WantTokens(HostKey host, int count, double rate, int burst);

    /// <summary>The host gives back <paramref name="count"/> shares it does not use (it no longer counts them).</summary>
    void ReturnShares(HostKey host, int count);

    /// <summary>A proxy (or gateway account) wants <paramref name="count"/> more shares of its fleet-wide limit <paramref name="limit"/>.</summary>
    void WantProxyShares(string proxyId, int count, int limit);

    /// <summary>A paced proxy wants a start token from the fleet's bucket of <paramref name="rate"/> starts per second (burst 1).</summary>
    void WantProxyTokens(string proxyId, double rate);

    /// <summary>A proxy gives back <paramref name="count"/> shares it does not use.</summary>
    void ReturnProxyShares(string proxyId, int count);

    /// <summary>A host answered with <c>Retry-After</c>: every process must leave it alone until <paramref name="until"/>.</summary>
    void HostPaused(HostKey host, DateTimeOffset until);

    /// <summary>The pool changed a proxy's health locally (quarantine, reanimation, retirement, a block by a host): tell the fleet.</summary>
    void ProxyChanged(ProxyFleetEvent change);
}
