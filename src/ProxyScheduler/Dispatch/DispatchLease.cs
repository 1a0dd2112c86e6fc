using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Dispatch;

/// <summary>
/// The right to run one attempt to one host, through one proxy (or direct); given back with
/// <see cref="Dispatcher.Release"/>.
/// </summary>
internal readonly struct DispatchLease
{
    public DispatchLease(HostState host, ProxyNode? proxy = null, bool isProbe = false)
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
