namespace ProxyScheduler.Proxies;

/// <summary>Where a proxy stands in the pool.</summary>
public enum ProxyHealthState
{
    /// <summary>The proxy takes traffic.</summary>
    Healthy,

    /// <summary>The proxy failed repeatedly and takes no traffic until its reanimation time, then one probe request.</summary>
    Quarantined,

    /// <summary>The proxy kept failing and was taken out of the pool for good (until its provider lists it anew).</summary>
    Retired,

    /// <summary>The proxy's provider no longer lists it: it takes no new traffic and leaves once its requests end.</summary>
    Draining,
}
