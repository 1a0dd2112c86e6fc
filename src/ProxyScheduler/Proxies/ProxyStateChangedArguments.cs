namespace ProxyScheduler.Proxies;

/// <summary>The arguments of <see cref="ProxyPoolOptions.OnProxyStateChanged"/>.</summary>
public readonly struct ProxyStateChangedArguments
{
    /// <summary>Initializes a new instance of the <see cref="ProxyStateChangedArguments"/> struct.</summary>
    /// <param name="proxyId">The proxy's opaque id.</param>
    /// <param name="previous">The state before.</param>
    /// <param name="current">The state now.</param>
    /// <param name="reanimationAt">For a quarantine, when the proxy gets its probe.</param>
    public ProxyStateChangedArguments(string proxyId, ProxyHealthState previous, ProxyHealthState current, DateTimeOffset? reanimationAt)
    {
        ProxyId = proxyId;
        Previous = previous;
        Current = current;
        ReanimationAt = reanimationAt;
    }

    /// <summary>Gets the proxy's opaque id (<see cref="ProxyEndpoint.Id"/>); never a credential.</summary>
    public string ProxyId { get; }

    /// <summary>Gets the state before the change.</summary>
    public ProxyHealthState Previous { get; }

    /// <summary>Gets the state after the change.</summary>
    public ProxyHealthState Current { get; }

    /// <summary>Gets, for a quarantine, when the proxy gets its probe request.</summary>
    public DateTimeOffset? ReanimationAt { get; }
}
