namespace ProxyScheduler.Proxies.Internal;

/// <summary>What the pool answered to a request for a proxy.</summary>
internal enum ProxyVerdict
{
    /// <summary>A proxy was selected.</summary>
    Selected,

    /// <summary>Proxies exist but are busy, resting or blocked for this host for now: wait.</summary>
    Busy,

    /// <summary>Every proxy able to serve is quarantined (or the pool is paused by an outage).</summary>
    Quarantined,

    /// <summary>Every proxy able to serve is quarantined or resting for this host (blocked, or failing to reach it), and at least one is resting: none is merely busy.</summary>
    Blocked,

    /// <summary>No proxy of the pool meets the requirement.</summary>
    NoMatch,

    /// <summary>Every proxy meeting the requirement is retired, draining, or already failed this request.</summary>
    Exhausted,
}
