namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// Sends one attempt through the handler pipeline of a named <c>IHttpClientFactory</c> client. The primary handler
/// is a <see cref="SocketsHttpHandler"/> with redirects, cookies and system proxies off (see
/// <see cref="TransportClientNames"/>); the scheduler's own timeouts rule, so no <see cref="HttpClient.Timeout"/> applies.
/// </summary>
internal sealed class HttpTransport
{
    private readonly IHttpMessageHandlerFactory _handlerFactory;

    public HttpTransport(IHttpMessageHandlerFactory handlerFactory)
    {
        _handlerFactory = handlerFactory;
    }

    public Task<HttpResponseMessage> SendDirectAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The factory caches the handler chain per name and rotates it after its lifetime; the invoker is a thin
        // wrapper that must not dispose the shared handler.
        var invoker = new HttpMessageInvoker(_handlerFactory.CreateHandler(TransportClientNames.Direct), disposeHandler: false);
        return invoker.SendAsync(request, cancellationToken);
    }
}
