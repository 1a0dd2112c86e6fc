using System.Net;

namespace ProxyScheduler;

/// <summary>
/// A request ended without a usable response. <see cref="Reason"/> says why; the message names the request by its
/// redacted URI (no user information, no query).
/// </summary>
public class RequestFailedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RequestFailedException"/> class.</summary>
    public RequestFailedException()
        : this("The request failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RequestFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    public RequestFailedException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RequestFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RequestFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        RequestUri = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="RequestFailedException"/> class.</summary>
    /// <param name="reason">Why the request failed.</param>
    /// <param name="requestUri">The redacted URI of the request.</param>
    /// <param name="attempts">The number of attempts made.</param>
    /// <param name="statusCode">The status of the last response, if there was one.</param>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RequestFailedException(
        RequestFailureReason reason,
        string requestUri,
        int attempts,
        HttpStatusCode? statusCode,
        string message,
        Exception? innerException)
        : base(message, innerException)
    {
        Reason = reason;
        RequestUri = requestUri ?? string.Empty;
        Attempts = attempts;
        StatusCode = statusCode;
    }

    /// <summary>Gets why the request failed.</summary>
    public RequestFailureReason Reason { get; }

    /// <summary>Gets the request's URI in redacted form (<c>scheme://host:port/path</c>).</summary>
    public string RequestUri { get; }

    /// <summary>Gets the number of attempts made.</summary>
    public int Attempts { get; }

    /// <summary>Gets the status code of the last response, when one was received.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets the opaque ids of the proxies the request's attempts went through, in order (empty for direct requests).</summary>
    public IReadOnlyList<string> ProxiesTried { get; init; } = [];
}
