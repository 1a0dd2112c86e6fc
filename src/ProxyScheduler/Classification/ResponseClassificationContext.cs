using System.Net;
using System.Net.Http.Headers;
using ProxyScheduler.Proxies;

namespace ProxyScheduler.Classification;

/// <summary>What an <see cref="IResponseClassifier"/> sees of one attempt: a response, or the exception it ended with.</summary>
public readonly struct ResponseClassificationContext
{
    /// <summary>Initializes a new instance of the <see cref="ResponseClassificationContext"/> struct.</summary>
    /// <param name="requestUri">The URI of the attempt (the request's, or a redirect hop's).</param>
    /// <param name="proxy">The proxy the attempt went through, or <see langword="null"/> for a direct attempt.</param>
    /// <param name="statusCode">The response status, or <see langword="null"/> when the attempt ended with an exception.</param>
    /// <param name="headers">The response headers, or <see langword="null"/>.</param>
    /// <param name="body">The buffered body (empty for redirects and HEAD).</param>
    /// <param name="exception">The exception the attempt ended with, or <see langword="null"/>.</param>
    public ResponseClassificationContext(
        Uri requestUri,
        ProxyEndpoint? proxy,
        HttpStatusCode? statusCode,
        HttpResponseHeaders? headers,
        ReadOnlyMemory<byte> body,
        Exception? exception)
    {
        RequestUri = requestUri;
        Proxy = proxy;
        StatusCode = statusCode;
        Headers = headers;
        Body = body;
        Exception = exception;
    }

    /// <summary>Gets the URI of the attempt.</summary>
    public Uri RequestUri { get; }

    /// <summary>Gets the proxy the attempt went through, or <see langword="null"/> for a direct attempt.</summary>
    public ProxyEndpoint? Proxy { get; }

    /// <summary>Gets the response status, or <see langword="null"/> when the attempt ended with an exception.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets the response headers, or <see langword="null"/>.</summary>
    public HttpResponseHeaders? Headers { get; }

    /// <summary>Gets the buffered response body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Gets the exception the attempt ended with: <see cref="HttpRequestException"/>, <see cref="IOException"/>, <see cref="TimeoutException"/> for the attempt timeout, or another.</summary>
    public Exception? Exception { get; }
}
