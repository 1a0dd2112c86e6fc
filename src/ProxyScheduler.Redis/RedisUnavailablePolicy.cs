namespace ProxyScheduler.Redis;

/// <summary>What a worker does while Redis cannot be reached.</summary>
public enum RedisUnavailablePolicy
{
    /// <summary>
    /// Fail closed: no new share of any host's limit is taken, so requests wait (the shares held before expire after
    /// <see cref="RedisOptions.LeaseTtl"/>); requests still waiting after <see cref="RedisOptions.UnavailableTimeout"/>
    /// fail with <see cref="RequestFailureReason.CoordinationUnavailable"/>. Nothing goes past the fleet's limits.
    /// </summary>
    Pause,

    /// <summary>
    /// Go on alone: each host gets a local limit of <see cref="RedisOptions.FallbackShare"/> of its configured limit (at
    /// least 1) until Redis returns; then the local shares are dropped and the fleet's shares are taken again.
    /// Configure the share so that the workers' local limits together stay within the host's limit.
    /// </summary>
    FallbackToLocal,
}
