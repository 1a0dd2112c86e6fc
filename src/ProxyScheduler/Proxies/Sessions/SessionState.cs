using System.Net;

namespace ProxyScheduler.Proxies.Sessions;

/// <summary>
/// One session's binding: the proxy identity it uses, since when, how often, and its cookies. Kept by an
/// <see cref="ISessionStore"/>. The key is a secret of the caller's: it never appears in logs, metrics or messages,
/// and <see cref="ToString"/> does not show it.
/// </summary>
public sealed class SessionState
{
    /// <summary>Initializes a new instance of the <see cref="SessionState"/> class.</summary>
    /// <param name="key">The session key.</param>
    /// <param name="createdAt">When the session was created.</param>
    public SessionState(string key, DateTimeOffset createdAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        Key = key;
        CreatedAt = createdAt;
        LastUsedAt = createdAt;
        BoundAt = createdAt;
    }

    /// <summary>Gets the session key.</summary>
    public string Key { get; }

    /// <summary>Gets when the session was created.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Gets or sets the opaque id of the proxy identity the session is bound to; <see langword="null"/> before its first attempt or after its binding ended.</summary>
    public string? ProxyId { get; set; }

    /// <summary>Gets or sets when the current binding began.</summary>
    public DateTimeOffset BoundAt { get; set; }

    /// <summary>Gets or sets when the session's last attempt started.</summary>
    public DateTimeOffset LastUsedAt { get; set; }

    /// <summary>Gets or sets how many attempts the current binding has carried.</summary>
    public int Uses { get; set; }

    /// <summary>Gets or sets how many times the session moved to another identity.</summary>
    public int Rebinds { get; set; }

    /// <summary>Gets or sets a value indicating whether the binding was lost (its proxy failed or was blocked) and not yet replaced.</summary>
    public bool BindingLost { get; set; }

    /// <summary>Gets or sets the session's cookies, when sessions keep cookies.</summary>
    public CookieContainer? Cookies
    {
        get => Volatile.Read(ref CookiesField);
        set => Volatile.Write(ref CookiesField, value);
    }

#pragma warning disable CA1051, SA1401 // Set once with Interlocked by the scheduler.
    internal CookieContainer? CookiesField;
#pragma warning restore CA1051, SA1401

    /// <summary>Gets or sets the exit the current binding was first seen on (strict gateways); reset with the binding.</summary>
    internal string? ExitLabel { get; set; }

    /// <summary>Gets or sets when a distributed session store last read this session's binding from the fleet.</summary>
    internal DateTimeOffset FleetReadAt { get; set; }

    /// <summary>Gets or sets the timestamp (of the scheduler's <see cref="TimeProvider"/>) before which the session may not start an attempt.</summary>
    internal long NextStart { get; set; }

    /// <summary>Returns the binding's shape without the key.</summary>
    /// <returns>A description.</returns>
    public override string ToString() => $"session bound to {ProxyId ?? "no proxy"}, {Uses} use(s), {Rebinds} rebind(s)";
}
