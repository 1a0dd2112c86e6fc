using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// Sends one attempt through the handler pipeline of a named <c>IHttpClientFactory</c> client. The primary handler
/// is a <see cref="SocketsHttpHandler"/> with redirects, cookies and system proxies off (see
/// <see cref="TransportClientNames"/>); the scheduler's own timeouts rule, so no <see cref="HttpClient.Timeout"/> applies.
/// </summary>
internal sealed class HttpTransport
{
    private readonly IHttpMessageHandlerFactory _handlerFactory;
    private Entry? _direct;

    public HttpTransport(IHttpMessageHandlerFactory handlerFactory)
    {
        _handlerFactory = handlerFactory;
    }

    public Task<HttpResponseMessage> SendDirectAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The factory caches the handler chain per name and rotates it after its lifetime; the invoker is a thin
        // wrapper that must not dispose the shared handler, kept for as long as the factory returns the same chain.
        var handler = _handlerFactory.CreateHandler(TransportClientNames.Direct);
        var entry = _direct;
        if (entry is null || !ReferenceEquals(entry.Handler, handler))
        {
            entry = new Entry(handler);
            _direct = entry;
        }

        return entry.Invoker.SendAsync(request, cancellationToken);
    }

    /// <summary>Sends one attempt through the proxy identity's own handler (see <see cref="ProxyClientOptionsSetup"/>).</summary>
    public Task<HttpResponseMessage> SendViaProxyAsync(string clientName, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var invoker = new HttpMessageInvoker(_handlerFactory.CreateHandler(clientName), disposeHandler: false);
        return invoker.SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// Sends one attempt through <paramref name="proxy"/>'s own client, or directly when it is <see langword="null"/>.
    /// The invoker of each identity is cached on its pool node while the factory returns the same handler chain.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(ProxyNode? proxy, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (proxy is null)
        {
            return SendDirectAsync(request, cancellationToken);
        }

        var handler = _handlerFactory.CreateHandler(proxy.ClientName);
        if (proxy.TransportEntry is not Entry entry || !ReferenceEquals(entry.Handler, handler))
        {
            entry = new Entry(handler);
            proxy.TransportEntry = entry;
        }

        return entry.Invoker.SendAsync(request, cancellationToken);
    }

    private sealed class Entry(HttpMessageHandler handler)
    {
        public HttpMessageHandler Handler { get; } = handler;

        public HttpMessageInvoker Invoker { get; } = new(handler, disposeHandler: false);
    }
}
