namespace ProxyScheduler.Proxies.Sessions;

/// <summary>What happens to a session whose proxy failed, was blocked by the host, or left the pool.</summary>
public enum SessionBindingPolicy
{
    /// <summary>The session moves to another proxy identity (with fresh cookies); the response reports the rebind.</summary>
    Rebind,

    /// <summary>The session's requests fail with <see cref="RequestFailureReason.SessionLost"/> until the session expires or is removed.</summary>
    Fail,
}
