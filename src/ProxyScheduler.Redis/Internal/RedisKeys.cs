using ProxyScheduler.Scheduling.Internal;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>Every key and channel of distributed mode, under one prefix (see docs/distributed.md for what each holds).</summary>
internal sealed class RedisKeys(string prefix)
{
    public string ChannelName { get; } = prefix + "events";

    public RedisChannel Channel => RedisChannel.Literal(ChannelName);

    /// <summary>Gets the hash of proxy states (quarantined until, retired) by proxy id.</summary>
    public RedisKey Proxies { get; } = prefix + "proxies";

    public RedisKey Leases(HostKey host) => $"{prefix}host:{host}:leases";

    public RedisKey Wants(HostKey host) => $"{prefix}host:{host}:wants";

    public RedisKey Pause(HostKey host) => $"{prefix}host:{host}:pause";

    public RedisKey Bucket(HostKey host) => $"{prefix}host:{host}:bucket";
}
