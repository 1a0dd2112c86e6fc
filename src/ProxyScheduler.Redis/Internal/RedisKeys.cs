using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>Every key and channel of distributed mode, under one prefix (see docs/distributed.md for what each holds).</summary>
internal sealed class RedisKeys(string prefix)
{
    public string ChannelName { get; } = prefix + "events";

    public RedisChannel Channel => RedisChannel.Literal(ChannelName);

    /// <summary>Gets the hash of proxy states (quarantined until, retired) by proxy id.</summary>
    public RedisKey Proxies { get; } = prefix + "proxies";

    /// <summary>Gets the hash of blocks of proxies by hosts (<c>proxy id|host</c> → until, ms).</summary>
    public RedisKey Blocks { get; } = prefix + "blocks";

    /// <summary>Gets the key a running worker holds under its <c>WorkerId</c> (its instance token, kept alive with the leases' TTL).</summary>
    public RedisKey Worker(string workerId) => $"{prefix}worker:{workerId}";

    public RedisKey Leases(Resource resource) => $"{prefix}{resource.Scope}:{resource.Text}:leases";

    public RedisKey Wants(Resource resource) => $"{prefix}{resource.Scope}:{resource.Text}:wants";

    public RedisKey Pause(Resource resource) => $"{prefix}{resource.Scope}:{resource.Text}:pause";

    public RedisKey Pause(HostKey host) => Pause(Resource.Of(host));

    public RedisKey Bucket(Resource resource) => $"{prefix}{resource.Scope}:{resource.Text}:bucket";
}

/// <summary>What fleet shares are of: a host (<c>host:port</c>) or a proxy (its opaque id).</summary>
internal readonly record struct Resource(bool IsProxy, HostKey Host, string Text)
{
    public string Scope => IsProxy ? "proxy" : "host";

    public static Resource Of(HostKey host) => new(false, host, host.ToString());

    public static Resource OfProxy(string proxyId) => new(true, default, proxyId);

    /// <summary>Parses what a <c>released</c> message carries: <c>host:port</c>, or <c>proxy:{id}</c>.</summary>
    public static bool TryParse(string text, out Resource resource)
    {
        if (text.StartsWith("proxy:", StringComparison.Ordinal))
        {
            resource = OfProxy(text["proxy:".Length..]);
            return true;
        }

        resource = default;
        if (HostKey.TryParse(text, out var host))
        {
            resource = Of(host);
            return true;
        }

        return false;
    }

    public override string ToString() => IsProxy ? "proxy:" + Text : Text;
}
