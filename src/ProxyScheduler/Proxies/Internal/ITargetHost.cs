namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// A target host as the pool sees it when it picks and scores proxies for it: its key, its attempts in flight, and how
/// many of them go through each proxy group (for <see cref="ProxyPoolOptions.MaxGroupShare"/>). The dispatcher's host
/// state implements it; the pool reads and updates it under the dispatcher's lock.
/// </summary>
internal interface ITargetHost
{
    /// <summary>Gets the host.</summary>
    HostKey Key { get; }

    /// <summary>Gets the attempts in flight to the host.</summary>
    int InFlight { get; }

    /// <summary>Gets or sets the attempts in flight to the host by proxy group id; <see langword="null"/> until one is counted.</summary>
    Dictionary<int, int>? ProxyGroups { get; set; }
}
