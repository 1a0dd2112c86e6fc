using ProxyScheduler.Proxies.Sessions;

namespace ProxyScheduler.Fleet;

/// <summary>
/// Told when a session is bound to a proxy identity or lets go of one (a distributed session store shares bindings
/// this way). Called under the dispatcher's lock: implementations only record and return.
/// </summary>
internal interface ISessionBindingObserver
{
    void Bound(SessionState session, string? previousProxyId);

    void Unbound(SessionState session, string proxyId);
}
