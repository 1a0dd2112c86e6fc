using ProxyScheduler.Fleet;

namespace ProxyScheduler.Redis.Internal;

/// <summary>Routes an answer about a fleet <see cref="Resource"/> to the listener's host or proxy method.</summary>
internal static class FleetListenerRouting
{
    public static void Grant(this IFleetListener listener, Resource resource, int granted, bool contended, int fair)
    {
        if (resource.IsProxy)
        {
            listener.GrantProxyShares(resource.Text, granted);
        }
        else
        {
            listener.GrantShares(resource.Host, granted, contended, fair);
        }
    }

    public static void GrantTokens(this IFleetListener listener, Resource resource, int count)
    {
        if (resource.IsProxy)
        {
            listener.GrantProxyTokens(resource.Text, count);
        }
        else
        {
            listener.GrantTokens(resource.Host, count);
        }
    }

    public static void Revoke(this IFleetListener listener, Resource resource, int count)
    {
        if (resource.IsProxy)
        {
            listener.RevokeProxyShares(resource.Text, count);
        }
        else
        {
            listener.RevokeShares(resource.Host, count);
        }
    }

    /// <summary>Tells a host whether other workers wait for its shares (a proxy's shares have no contention rule).</summary>
    public static void Contention(this IFleetListener listener, Resource resource, bool contended, int fair)
    {
        if (!resource.IsProxy)
        {
            listener.SetContention(resource.Host, contended, fair);
        }
    }
}
