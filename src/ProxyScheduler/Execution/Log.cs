using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Execution;

/// <summary>Log events of a request's execution (retries, redirects, failures). URIs are logged redacted; no header values are logged.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1001, EventName = "RetryScheduled", Level = LogLevel.Debug,
        Message = "Retrying {Request} in {DelayMs} ms after attempt {Attempt}: {Cause}")]
    public static partial void RetryScheduled(ILogger logger, string request, double delayMs, int attempt, string cause);

    [LoggerMessage(EventId = 1002, EventName = "RedirectFollowed", Level = LogLevel.Debug,
        Message = "Following a {StatusCode} redirect from {Request} to {Target}")]
    public static partial void RedirectFollowed(ILogger logger, int statusCode, string request, string target);

    [LoggerMessage(EventId = 1003, EventName = "RequestFailed", Level = LogLevel.Debug,
        Message = "{Request} failed after {Attempts} attempt(s): {Reason}")]
    public static partial void RequestFailed(ILogger logger, string request, int attempts, RequestFailureReason reason);
}
