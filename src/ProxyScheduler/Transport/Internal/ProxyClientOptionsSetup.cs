using System.Net;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// Configures the <c>IHttpClientFactory</c> client of each proxy identity: one primary <see cref="SocketsHttpHandler"/>
/// per identity (so a connection opened for one identity is never reused by another), with the proxy set explicitly
/// and its credentials in <see cref="WebProxy.Credentials"/>. A proxy client whose identity is unknown fails every
/// request instead of connecting directly: proxied traffic never falls back to the caller's own address.
/// </summary>
internal sealed class ProxyClientOptionsSetup : IConfigureNamedOptions<HttpClientFactoryOptions>
{
    /// <summary>How long a proxy identity's handler serves new requests before the factory rotates it.</summary>
    public static readonly TimeSpan HandlerLifetime = TimeSpan.FromMinutes(2);

    private readonly ProxyIdentityRegistry _registry;

    public ProxyClientOptionsSetup(ProxyIdentityRegistry registry) => _registry = registry;

    public void Configure(HttpClientFactoryOptions options)
    {
        // Only named clients are configured here.
    }

    public void Configure(string? name, HttpClientFactoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (name is null || !name.StartsWith(ProxyIdentityRegistry.ClientNamePrefix, StringComparison.Ordinal))
        {
            return;
        }

        options.HandlerLifetime = HandlerLifetime;
        options.HttpMessageHandlerBuilderActions.Add(builder =>
        {
            builder.AdditionalHandlers.Clear();
            builder.PrimaryHandler = _registry.TryGet(builder.Name ?? string.Empty, out var endpoint)
                ? new SocketsHttpHandler
                {
                    Proxy = new WebProxy(endpoint.GetAddress()) { Credentials = endpoint.GetCredentials() },
                    UseProxy = true,
                    AllowAutoRedirect = false,
                    UseCookies = false,
                    AutomaticDecompression = DecompressionMethods.All,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                }
                : new FailClosedHandler();
        });
    }

    /// <summary>Refuses every request: used when a proxy client has no identity behind it.</summary>
    private sealed class FailClosedHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromException<HttpResponseMessage>(new HttpRequestException(
                HttpRequestError.ProxyTunnelError,
                "The proxy identity of this client is not registered; the request was not sent (proxied traffic never goes out directly)."));
    }
}
