using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler;

/// <summary>
/// The answer to a <see cref="ScheduledRequest"/>: status, headers and the body, read fully into memory (up to
/// <see cref="ProxySchedulerOptions.MaxResponseBodySize"/>) so that the connection went back to its pool at once.
/// </summary>
/// <remarks>
/// Any status code is a response: a 404 or a 500 that was still failing after the retries is returned, not thrown.
/// Only failures without a usable response (timeouts, transport errors, oversize bodies) become a
/// <see cref="RequestFailedException"/>.
/// </remarks>
public sealed class ScheduledResponse
{
    private readonly HttpContentHeaders _sourceContentHeaders;
    private ResponseBody _body;
    private int _bodyReleased;
    private HttpContentHeaders? _contentHeaders;

    internal ScheduledResponse(
        ScheduledRequest request,
        Uri finalUri,
        HttpStatusCode statusCode,
        string? reasonPhrase,
        Version version,
        HttpResponseHeaders headers,
        HttpContentHeaders sourceContentHeaders,
        ResponseBody body,
        ScheduledResponseTimings timings,
        int attempts,
        int redirects)
    {
        Request = request;
        RequestUri = finalUri;
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Version = version;
        Headers = headers;
        _sourceContentHeaders = sourceContentHeaders;
        _body = body;
        BodyLength = body.Length;
        Timings = timings;
        Attempts = attempts;
        Redirects = redirects;
    }

    /// <summary>Gets the request this response answers.</summary>
    public ScheduledRequest Request { get; }

    /// <summary>Gets the URI that produced this response: the request's URI, or the last redirect target.</summary>
    public Uri RequestUri { get; }

    /// <summary>Gets the status code.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Gets a value indicating whether <see cref="StatusCode"/> is in the range 200-299.</summary>
    public bool IsSuccessStatusCode => (int)StatusCode is >= 200 and <= 299;

    /// <summary>Gets the reason phrase sent by the server, if any.</summary>
    public string? ReasonPhrase { get; }

    /// <summary>Gets the HTTP version of the response.</summary>
    public Version Version { get; }

    /// <summary>Gets the response headers.</summary>
    public HttpResponseHeaders Headers { get; }

    /// <summary>Gets the content headers (<c>Content-Type</c>, ...); <c>Content-Length</c> is the buffered body's length.</summary>
    public HttpContentHeaders ContentHeaders => _contentHeaders ?? CreateContentHeaders();

    /// <summary>Gets the body, decompressed when the server compressed it.</summary>
    /// <exception cref="ObjectDisposedException">
    /// The response went through a post-processing pipeline, which gave the body's buffer back to its pool once the
    /// processors were done with it; keep what you need of the body in the processor's result.
    /// </exception>
    public ReadOnlyMemory<byte> Body
    {
        get
        {
            if (Volatile.Read(ref _bodyReleased) != 0)
            {
                throw new ObjectDisposedException(nameof(ScheduledResponse), "The body of this response was given back to the pool after post-processing; keep what you need of it in the processor's result.");
            }

            return _body.Memory;
        }
    }

    /// <summary>Gets the body's length in bytes (still known after post-processing gave the body back).</summary>
    public int BodyLength { get; private init; }

    /// <summary>Gets how long the request waited and ran.</summary>
    public ScheduledResponseTimings Timings { get; }

    /// <summary>Gets the number of attempts made, across retries and redirects (at least 1).</summary>
    public int Attempts { get; }

    /// <summary>Gets the number of redirects followed.</summary>
    public int Redirects { get; }

    /// <summary>Gets the proxy the response came through, or <see langword="null"/> for a direct request.</summary>
    public Proxies.ProxyEndpoint? Proxy { get; init; }

    /// <summary>Gets the opaque ids of the proxies the request's attempts went through, in order (empty for direct requests).</summary>
    public IReadOnlyList<string> ProxiesTried { get; init; } = [];

    /// <summary>Gets a value indicating whether the request's session moved to another proxy identity while the request ran (its proxy failed, was blocked, or its binding expired).</summary>
    public bool SessionRebound { get; init; }

    /// <summary>Gets what the classifier made of this response (a final 403 is <see cref="Classification.ResponseClass.Blocked"/>, for example).</summary>
    public Classification.ResponseClass Class { get; init; }

    /// <summary>Decodes <see cref="Body"/> as text, using the charset of <c>Content-Type</c> and UTF-8 when there is none.</summary>
    /// <returns>The body as a string.</returns>
    public string ReadBodyAsString()
    {
        var encoding = Encoding.UTF8;
        var charset = ContentHeaders.ContentType?.CharSet;
        if (!string.IsNullOrWhiteSpace(charset))
        {
            try
            {
                encoding = Encoding.GetEncoding(charset.Trim('"'));
            }
            catch (ArgumentException)
            {
                // An unknown charset falls back to UTF-8, as browsers do.
            }
        }

        return encoding.GetString(Body.Span);
    }

    /// <summary>Throws a <see cref="RequestFailedException"/> unless <see cref="IsSuccessStatusCode"/> is true.</summary>
    /// <returns>This response.</returns>
    /// <exception cref="RequestFailedException">The status code is not in the range 200-299.</exception>
    public ScheduledResponse EnsureSuccessStatusCode()
    {
        if (!IsSuccessStatusCode)
        {
            throw new RequestFailedException(
                RequestFailureReason.UnsuccessfulStatusCode,
                UriRedactor.Redact(RequestUri),
                Attempts,
                StatusCode,
                $"The request to {UriRedactor.Redact(RequestUri)} ended with status {(int)StatusCode} ({ReasonPhrase}).",
                innerException: null);
        }

        return this;
    }

    private HttpContentHeaders CreateContentHeaders()
    {
        // Copied on first use onto an empty content object, with Content-Length set to the buffered body's length, so
        // that nothing refers to the disposed network content or to a pooled body buffer.
        var holder = new ByteArrayContent([]);
        foreach (var header in _sourceContentHeaders.NonValidated)
        {
            if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                holder.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        holder.Headers.ContentLength = BodyLength;
        Interlocked.CompareExchange(ref _contentHeaders, holder.Headers, null);
        return _contentHeaders;
    }

    /// <summary>Gives a pooled body back to its pool, once; afterwards <see cref="Body"/> throws.</summary>
    internal void ReleaseBody()
    {
        if (Interlocked.Exchange(ref _bodyReleased, 1) == 0)
        {
            var body = _body;
            _body = ResponseBody.Empty;
            body.Return();
        }
    }

    /// <summary>Returns the status code and the redacted URI.</summary>
    /// <returns>A description of the response.</returns>
    public override string ToString() => $"{(int)StatusCode} {Request.Method} {UriRedactor.Redact(RequestUri)}";
}
