namespace ProxyScheduler.Classification;

/// <summary>What one attempt's response or exception means, as an <see cref="IResponseClassifier"/> decides.</summary>
public enum ResponseClass
{
    /// <summary>The target answered (any status that is not one of the others, 404 included): the proxy did its job.</summary>
    Success,

    /// <summary>
    /// The proxy failed: refused or reset connection to it, a failed tunnel, a timeout reaching it, its own 407 or 502.
    /// Counts against the proxy; the request is retried on another proxy.
    /// </summary>
    ProxyFailure,

    /// <summary>
    /// The target blocked this proxy (403, a CAPTCHA page): a matter between this proxy and this host only. The proxy
    /// rests for that host and keeps serving the others; the request is retried on another proxy.
    /// </summary>
    Blocked,

    /// <summary>The target asks to slow down (429, 503, Retry-After): a host matter, never charged to the proxy.</summary>
    Throttled,

    /// <summary>The target failed (5xx, 408): retried within the target budget, not charged to the proxy.</summary>
    TargetFailure,

    /// <summary>Not worth retrying anywhere (an oversize body, an invalid redirect).</summary>
    Fatal,
}
