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

    /// <summary>
    /// Sends one attempt through <paramref name="proxy"/>'s own client (see <see cref="ProxyClientOptionsSetup"/>), or
    /// directly when it is <see langword="null"/>.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(ProxyNode? proxy, HttpRequestMessage request, CancellationToken cancellationToken) =>
        proxy is null ? SendDirectAsync(request, cancellationToken) : SendViaProxyAsync(proxy.ClientName, request, cancellationToken);

    /// <summary>
    /// Sends one attempt through the named proxy client. Nothing keeps the handler between attempts, so the factory
    /// rotates it after its lifetime and disposes it once an idle proxy no longer uses it: with many proxies, only
    /// those in use hold a connection pool.
    /// </summary>
    public Task<HttpResponseMessage> SendViaProxyAsync(string clientName, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var invoker = new HttpMessageInvoker(_handlerFactory.CreateHandler(clientName), disposeHandler: false);
        return invoker.SendAsync(request, cancellationToken);
    }

    private sealed class Entry(HttpMessageHandler handler)
    {
        public HttpMessageHandler Handler { get; } = handler;

        public HttpMessageInvoker Invoker { get; } = new(handler, disposeHandler: false);
    }
}
