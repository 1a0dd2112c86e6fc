using System.Net;
using System.Net.Http.Headers;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>What one attempt produced: a buffered response, or a redirect to follow (whose body was not read).</summary>
internal sealed class AttemptResult
{
    public AttemptResult(HttpResponseMessage response, byte[] body, Uri? redirectTo, TimeSpan? retryAfter)
    {
        StatusCode = response.StatusCode;
        ReasonPhrase = response.ReasonPhrase;
        Version = response.Version;
        Headers = response.Headers;
        SourceContentHeaders = response.Content.Headers;
        Body = body;
        RedirectTo = redirectTo;
        RetryAfter = retryAfter;
    }

    public HttpStatusCode StatusCode { get; }

    public string? ReasonPhrase { get; }

    public Version Version { get; }

    public HttpResponseHeaders Headers { get; }

    public HttpContentHeaders SourceContentHeaders { get; }

    public byte[] Body { get; }

    /// <summary>Gets the absolute redirect target when the scheduler should follow this response.</summary>
    public Uri? RedirectTo { get; }

    public TimeSpan? RetryAfter { get; }

    /// <summary>Gets what the classifier made of the response.</summary>
    public Classification.ResponseClass Class { get; init; }
}
