namespace ProxyScheduler.Proxies;

/// <summary>The protocol spoken to a proxy.</summary>
public enum ProxyScheme
{
    /// <summary>An HTTP forward proxy (<c>http://</c>); HTTPS targets are tunnelled with CONNECT.</summary>
    Http,

    /// <summary>An HTTP forward proxy reached over TLS (<c>https://</c>).</summary>
    Https,

    /// <summary>SOCKS4 (<c>socks4://</c>); the client resolves target names.</summary>
    Socks4,

    /// <summary>SOCKS4a (<c>socks4a://</c>); the proxy resolves target names.</summary>
    Socks4a,

    /// <summary>SOCKS5 (<c>socks5://</c>, also written <c>socks5h://</c>), optionally with a user name and password.</summary>
    Socks5,
}
