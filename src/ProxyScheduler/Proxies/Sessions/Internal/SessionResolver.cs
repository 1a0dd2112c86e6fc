using System.Net;

namespace ProxyScheduler.Proxies.Sessions.Internal;

/// <summary>
/// Which session an attempt belongs to: for <see cref="ProxyRotation.Sticky"/> the request's session key, for
/// <see cref="ProxyRotation.Fixed"/> one session per host, none for per-request rotation; and whose cookies it carries.
/// Sessions come from the configured <see cref="ISessionStore"/>; a key is never logged or put in a message.
/// </summary>
internal sealed class SessionResolver
{
    // Keys of per-host sessions (Fixed rotation) start with a control character, which a caller's key cannot contain.
    private const string FixedSessionPrefix = "\u0001fixed:";

    private readonly SessionOptions _options;
    private readonly ISessionStore _store;
    private readonly bool _hasPool;
    private readonly TimeProvider _time;

    /// <param name="options">The session options.</param>
    /// <param name="store">The session store.</param>
    /// <param name="hasPool">Whether proxies are configured (without them a session only keeps cookies).</param>
    /// <param name="time">The clock sessions are stamped with.</param>
    public SessionResolver(SessionOptions options, ISessionStore store, bool hasPool, TimeProvider time)
    {
        _options = options;
        _store = store;
        _hasPool = hasPool;
        _time = time;
    }

    /// <summary>Gets the number of sessions the store holds.</summary>
    public int Count => _store.Count;

    /// <summary>
    /// The session of an attempt of <paramref name="request"/> to <paramref name="host"/> (the one bound to a proxy), and
    /// in <paramref name="cookies"/> the session whose cookies the request carries (its session key's, when sessions
    /// keep cookies).
    /// </summary>
    public SessionState? Resolve(ScheduledRequest request, in HostKey host, out SessionState? cookies)
    {
        cookies = null;
        var key = request.SessionKey;
        var rotation = request.Rotation ?? _options.DefaultRotation;
        if (key is null && rotation != ProxyRotation.Fixed)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        var own = key is null ? null : _store.GetOrCreate(key, now);
        if (_options.UseCookies)
        {
            cookies = own;
        }

        if (!_hasPool || request.Proxy?.IsDirect == true)
        {
            return null;
        }

        return rotation switch
        {
            ProxyRotation.Sticky => own,
            ProxyRotation.Fixed => _store.GetOrCreate(FixedSessionPrefix + host.ToString(), now),
            _ => null,
        };
    }

    /// <summary>The session's cookie container, created on first use.</summary>
    public static CookieContainer CookiesOf(SessionState session)
    {
        if (session.Cookies is { } cookies)
        {
            return cookies;
        }

        Interlocked.CompareExchange(ref session.CookiesField, new CookieContainer(), null);
        return session.Cookies!;
    }
}
