namespace ProxyScheduler;

/// <summary>Why a request ended without a usable response.</summary>
public enum RequestFailureReason
{
    /// <summary>The last attempt exceeded its attempt timeout, and no retry was left.</summary>
    AttemptTimeout,

    /// <summary>The request's overall deadline passed before it completed.</summary>
    DeadlineExceeded,

    /// <summary>The connection failed (refused, reset, DNS, TLS, protocol error), and no retry was left.</summary>
    TransportError,

    /// <summary>The response body was larger than <see cref="ProxySchedulerOptions.MaxResponseBodySize"/>.</summary>
    ResponseTooLarge,

    /// <summary>The request was redirected more than <see cref="ProxySchedulerOptions.MaxRedirects"/> times.</summary>
    TooManyRedirects,

    /// <summary>A redirect had no usable <c>Location</c>, or pointed at a scheme other than http or https.</summary>
    InvalidRedirect,

    /// <summary>The scheduler was disposed before the request completed.</summary>
    SchedulerDisposed,

    /// <summary><see cref="ScheduledResponse.EnsureSuccessStatusCode"/> found a status outside 200-299.</summary>
    UnsuccessfulStatusCode,

    /// <summary>No proxy of the pool meets the request's <see cref="ScheduledRequest.Proxy"/> requirement (or no proxies are configured). The request was not sent.</summary>
    NoMatchingProxy,

    /// <summary>
    /// Every proxy able to serve the request is retired, draining, or already failed it; or, with
    /// <see cref="Proxies.ProxyUnavailableBehavior.FailFast"/>, every one is quarantined. The request was not sent again.
    /// </summary>
    ProxiesUnavailable,

    /// <summary>The last attempt failed at the proxy (refused, tunnel failure, 407, 502), and no proxy retry was left.</summary>
    ProxyFailure,

    /// <summary>The request's session lost its proxy (failed, blocked, gone) and <see cref="Proxies.Sessions.SessionOptions.WhenBindingLost"/> is <see cref="Proxies.Sessions.SessionBindingPolicy.Fail"/>.</summary>
    SessionLost,

    /// <summary>The host's robots.txt disallows the request's path for the configured user agent (<see cref="Politeness.RobotsOptions"/>). The request was not sent.</summary>
    DisallowedByRobots,

    /// <summary>
    /// Distributed mode: the fleet's coordination store (Redis) was unavailable for longer than its policy allows
    /// while the request waited for a share of its host's limit. The request was not sent.
    /// </summary>
    CoordinationUnavailable,

    /// <summary>
    /// The request's host was judged down (its attempts failed through several proxies, or directly, see
    /// <see cref="HostHealthOptions"/>) and stayed down longer than <see cref="HostHealthOptions.MaxWait"/> while the
    /// request waited for it. The message says what the failures were and when the next probe is due.
    /// </summary>
    HostUnavailable,
}
