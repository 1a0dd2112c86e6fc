using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>A fixed list of proxies given in code.</summary>
internal sealed class StaticProxyProvider : IProxyProvider
{
    private static readonly IChangeToken Never = new CancellationChangeToken(CancellationToken.None);
    private readonly IReadOnlyList<ProxyEndpoint> _proxies;

    public StaticProxyProvider(IEnumerable<ProxyEndpoint> proxies) => _proxies = [.. proxies];

    public string Name => "static";

    public IReadOnlyList<ProxyEndpoint> GetProxies() => _proxies;

    public IChangeToken GetChangeToken() => Never;
}
