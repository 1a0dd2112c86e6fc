namespace ProxyScheduler.Fleet;

/// <summary>What one process learned about a proxy, for the others.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="ProxyId">The proxy's opaque id.</param>
/// <param name="Until">Until when (quarantine, block); <see langword="null"/> otherwise.</param>
/// <param name="Host">The host, for a block.</param>
internal sealed record ProxyFleetEvent(ProxyFleetEventKind Kind, string ProxyId, DateTimeOffset? Until = null, string? Host = null);

/// <summary>The kinds of <see cref="ProxyFleetEvent"/>.</summary>
internal enum ProxyFleetEventKind
{
    Quarantined,
    Reanimated,
    Retired,
    Blocked,
}
