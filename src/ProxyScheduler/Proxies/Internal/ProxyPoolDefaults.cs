namespace ProxyScheduler.Proxies.Internal;

/// <summary>Defaults and bounds of <see cref="ProxyPoolOptions"/>.</summary>
internal static class ProxyPoolDefaults
{
    public const string Selector = "PowerOfTwoChoices";
    public const int MaxConcurrencyPerProxy = 32;
    public const int QuarantineAfter = 3;
    public const int RetireAfter = 6;
    public const double OutageThreshold = 0.8;
    public const int OutageMinProxies = 4;
    public const double MaxGroupShare = 0.5;
    public const int MaxProxies = 100_000;
    public const int MaxHostHealthEntries = 100_000;

    public static readonly TimeSpan QuarantineBaseDelay = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan QuarantineMaxDelay = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan BlockBaseDuration = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan BlockMaxDuration = TimeSpan.FromHours(2);
    public static readonly TimeSpan HealthHalfLife = TimeSpan.FromMinutes(5);

    /// <summary>How many live waiters of a host the dispatcher looks at when the first cannot get a proxy.</summary>
    public const int Lookahead = 16;
}
