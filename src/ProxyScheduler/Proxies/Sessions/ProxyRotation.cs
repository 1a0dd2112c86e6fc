namespace ProxyScheduler.Proxies.Sessions;

/// <summary>How often a request's proxy identity changes.</summary>
public enum ProxyRotation
{
    /// <summary>A fresh choice of proxy for every request (the pool's selector decides).</summary>
    PerRequest,

    /// <summary>All requests of one <see cref="ScheduledRequest.SessionKey"/> use one proxy identity until the binding ends.</summary>
    Sticky,

    /// <summary>All requests to one host use one proxy identity until the binding ends, whatever their session key.</summary>
    Fixed,
}
