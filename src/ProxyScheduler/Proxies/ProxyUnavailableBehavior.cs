namespace ProxyScheduler.Proxies;

/// <summary>What a request does when every proxy able to serve it is quarantined (or the pool is paused by an outage).</summary>
public enum ProxyUnavailableBehavior
{
    /// <summary>Wait in the host queue until a proxy is probed back to health, bounded by the request's deadline.</summary>
    Wait,

    /// <summary>Fail at once with <see cref="RequestFailureReason.ProxiesUnavailable"/>, without using a retry.</summary>
    FailFast,
}
