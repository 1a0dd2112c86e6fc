namespace ProxyScheduler.Proxies.Sessions;

/// <summary>
/// Where session bindings live. The in-memory store (the default) is bounded by <see cref="SessionOptions.MaxSessions"/>
/// and forgets the least recently used session past it; a distributed store shares bindings between processes.
/// Implementations must be thread-safe.
/// </summary>
public interface ISessionStore
{
    /// <summary>Gets the session of <paramref name="key"/>, creating it when there is none.</summary>
    /// <param name="key">The session key.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The session.</returns>
    SessionState GetOrCreate(string key, DateTimeOffset now);

    /// <summary>Forgets a session.</summary>
    /// <param name="key">The session key.</param>
    /// <returns><see langword="true"/> when the session existed.</returns>
    bool Remove(string key);

    /// <summary>Gets the number of sessions held.</summary>
    int Count { get; }
}
