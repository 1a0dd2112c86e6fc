namespace ProxyScheduler.Classification;

/// <summary>
/// Whom a failed attempt blames, as an <see cref="IResponseClassifier"/> judges it (see <see cref="IResponseClassifier.Blame"/>).
/// The scheduler moves health only where the evidence points: a proxy's own health and quarantine move only on
/// <see cref="Proxy"/>; what happened after the proxy handed the request on is weighed against what other proxies saw
/// of the same host before it is charged to the (proxy, host) pair or to the host.
/// </summary>
public enum AttemptBlame
{
    /// <summary>Nobody: the attempt succeeded, or its outcome says nothing about health (canceled, fatal).</summary>
    None,

    /// <summary>
    /// The proxy itself failed before it could pass the request on: the connection to it was refused, reset or timed out,
    /// it rejected the tunnel for its own reasons, or it answered 407 (or 401 with <c>Proxy-Authenticate</c>). Counts
    /// against the proxy's health; enough in a row quarantine it.
    /// </summary>
    Proxy,

    /// <summary>
    /// A matter between this proxy and this host: the host blocked the proxy (403, a block page), or the proxy could not
    /// reach the host (a 502 or 504 it generated, a tunnel it refused with a 5xx). The proxy rests for that host only.
    /// When several proxies see the same of one host, the host is judged down instead.
    /// </summary>
    ProxyAndHost,

    /// <summary>
    /// The target failed after the proxy passed the request on: it timed out, reset, stalled, or answered 5xx or 408.
    /// Never moves a proxy's health by itself. When attempts through two or more proxies fail this way, the host is judged
    /// down (its own circuit: starts paused, probed, recovered); when only one proxy fails with hosts that other proxies
    /// reach, the failures are that proxy's with those hosts, and if they spread over several hosts, the proxy's.
    /// </summary>
    Host,
}
