using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// The right to run one attempt to one host: the host's permit and a global permit, taken together, and through a proxy
/// that proxy's lease (or direct); given back with <see cref="Dispatcher.Release"/>. (Names say one thing: a permit is
/// what the dispatcher grants, a lease is a proxy's, a gate is a post-processing run's.)
/// </summary>
internal readonly struct AttemptPermit
{
    public AttemptPermit(HostState host, ProxyNode? proxy = null, bool isProbe = false)
    {
        Host = host;
        Proxy = proxy;
        IsProbe = isProbe;
        Seq = host.StartSeq;
    }

    /// <summary>Gets the host's start number of this attempt (for adaptive limits: was it started before the last decrease?).</summary>
    public long Seq { get; }

    public HostState Host { get; }

    /// <summary>Gets the proxy the attempt goes through, or <see langword="null"/> for a direct attempt.</summary>
    public ProxyNode? Proxy { get; }

    /// <summary>Gets a value indicating whether the attempt is the probe of a quarantined proxy.</summary>
    public bool IsProbe { get; }
}
