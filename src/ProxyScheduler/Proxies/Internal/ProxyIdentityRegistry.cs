using System.Collections.Concurrent;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// The proxy identities that currently have a transport, by opaque id. A client name is <see cref="ClientNamePrefix"/>
/// followed by the id, so no credential ever becomes a name. Retiring an identity removes the factory's cached options
/// for its name, so the set of configured names stays bounded.
/// </summary>
internal sealed class ProxyIdentityRegistry
{
    public const string ClientNamePrefix = "ProxyScheduler.Proxy.";

    private readonly ConcurrentDictionary<string, ProxyEndpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly IOptionsMonitorCache<HttpClientFactoryOptions> _optionsCache;

    public ProxyIdentityRegistry(IOptionsMonitorCache<HttpClientFactoryOptions> optionsCache) => _optionsCache = optionsCache;

    public static string ClientName(ProxyEndpoint endpoint) => ClientNamePrefix + endpoint.Id;

    public string Register(ProxyEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoints[endpoint.Id] = endpoint;
        return ClientName(endpoint);
    }

    public bool TryGet(string clientName, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ProxyEndpoint? endpoint)
    {
        endpoint = null;
        return clientName.StartsWith(ClientNamePrefix, StringComparison.Ordinal)
            && _endpoints.TryGetValue(clientName[ClientNamePrefix.Length..], out endpoint);
    }

    /// <summary>
    /// Retires an identity: its client name no longer resolves to a proxy (requests through it fail closed), and the
    /// factory's cached options for the name are dropped. Its handler is released by the factory after its lifetime.
    /// </summary>
    public bool Unregister(ProxyEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var removed = _endpoints.TryRemove(endpoint.Id, out _);
        _optionsCache.TryRemove(ClientName(endpoint));
        return removed;
    }

    public int Count => _endpoints.Count;
}
