using System.Net;
using System.Net.Http.Headers;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Execution;

/// <summary>
/// What one attempt produced: a buffered response, or a redirect to follow (whose body was not read). A rented body
/// goes back to its pool when the result is disposed (Polly disposes a result it retries) unless
/// <see cref="TakeBody"/> handed it on to the response.
/// </summary>
internal sealed class AttemptResult : IDisposable
{
    private ResponseBody _body;
    private int _bodyTaken;

    public AttemptResult(HttpResponseMessage response, ResponseBody body, Uri? redirectTo, TimeSpan? retryAfter)
    {
        StatusCode = response.StatusCode;
        ReasonPhrase = response.ReasonPhrase;
        Version = response.Version;
        Headers = response.Headers;
        SourceContentHeaders = response.Content.Headers;
        _body = body;
        RedirectTo = redirectTo;
        RetryAfter = retryAfter;
    }

    public HttpStatusCode StatusCode { get; }

    public string? ReasonPhrase { get; }

    public Version Version { get; }

    public HttpResponseHeaders Headers { get; }

    public HttpContentHeaders SourceContentHeaders { get; }

    /// <summary>Gets the body, for classification.</summary>
    public ReadOnlyMemory<byte> Body => _body.Memory;

    /// <summary>Gets the absolute redirect target when the scheduler should follow this response.</summary>
    public Uri? RedirectTo { get; }

    public TimeSpan? RetryAfter { get; }

    /// <summary>Gets what the classifier made of the response.</summary>
    public Classification.ResponseClass Class { get; init; }

    /// <summary>Hands the body on (to the response); the result no longer returns it.</summary>
    /// <returns>The body.</returns>
    public ResponseBody TakeBody()
    {
        if (Interlocked.Exchange(ref _bodyTaken, 1) != 0)
        {
            throw new InvalidOperationException("The body was handed on already.");
        }

        return _body;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _bodyTaken, 1) == 0)
        {
            _body.Return();
            _body = ResponseBody.Empty;
        }
    }
}
