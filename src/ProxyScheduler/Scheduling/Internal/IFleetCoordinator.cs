namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// Fleet-wide coordination (implemented by ProxyScheduler.Redis): the share of each host's concurrency this process may
/// use, and the signals other processes must see (Retry-After pauses, proxy health). The dispatcher calls
/// <see cref="WantShares"/>, <see cref="ReturnShares"/> and <see cref="HostPaused"/> under its lock: they must only
/// record the request and return; the coordinator answers later through the <see cref="Dispatcher"/>'s fleet methods
/// (<see cref="Dispatcher.GrantShares"/>, <see cref="Dispatcher.RevokeShares"/>, <see cref="Dispatcher.ApplyFleetPause"/>).
/// </summary>
internal interface IFleetCoordinator
{
    /// <summary>Connects the coordinator to the dispatcher and the pool it serves (once, when the scheduler is built).</summary>
    void Attach(Dispatcher dispatcher, Proxies.Internal.ProxyPool? pool);

    /// <summary>The host wants <paramref name="count"/> more shares; the fleet-wide limit of the host is <paramref name="limit"/>.</summary>
    void WantShares(HostKey host, int count, int limit);

    /// <summary>
    /// The host (which has a rate limit) wants <paramref name="count"/> start tokens from the fleet's bucket of
    /// <paramref name="rate"/> starts per second and <paramref name="burst"/> tokens; answered by <see cref="Dispatcher.GrantTokens"/>.
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

/// <summary>What one process learned about a proxy, for the others.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="ProxyId">The proxy's opaque id.</param>
/// <param name="Until">Until when (quarantine, block); <see langword="null"/> otherwise.</param>
/// <param name="Host">The host, for a block.</param>
internal sealed record ProxyFleetEvent(ProxyFleetEventKind Kind, string ProxyId, DateTimeOffset? Until = null, string? Host = null);

internal enum ProxyFleetEventKind
{
    Quarantined,
    Reanimated,
    Retired,
    Blocked,
}
