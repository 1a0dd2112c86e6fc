namespace ProxyScheduler.Proxies.Sessions.Internal;

/// <summary>Defaults and bounds of <see cref="SessionOptions"/>.</summary>
internal static class SessionDefaults
{
    public const int MaxSessions = 100_000;
    public const int MaxKeyLength = 256;

    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(30);
}
