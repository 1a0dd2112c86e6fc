using System.Net;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Execution;

/// <summary>
/// Turns what ended a request (an exception from an attempt or from the dispatcher) into the
/// <see cref="RequestFailedException"/> the caller sees: its reason, a message that names the redacted URI and the
/// attempts made, never a credential, and the proxies tried.
/// </summary>
internal sealed class FailureTranslator
{
    private readonly ILogger _logger;
    private readonly Func<bool> _isDisposed;

    /// <param name="logger">Where failures are logged (at debug level).</param>
    /// <param name="isDisposed">Whether the scheduler was disposed (a failure is then the disposal's).</param>
    public FailureTranslator(ILogger logger, Func<bool> isDisposed)
    {
        _logger = logger;
        _isDisposed = isDisposed;
    }

    /// <summary>Turns a failure handed over by the dispatcher for a queued batch item into the request's outcome.</summary>
    public static Exception TranslateDispatchFailure(ScheduledRequest request, Exception failure) =>
        failure is DispatchFailedException dispatch
            ? new RequestFailedException(dispatch.Reason, UriRedactor.Redact(request.RequestUri), 0, null,
                $"The request to {UriRedactor.Redact(request.RequestUri)} was not sent: {dispatch.Message}", null)
            : failure;

    /// <summary>
    /// The failure the caller sees for <paramref name="ex"/>; <see langword="null"/> when <paramref name="ex"/> itself is
    /// to be thrown (the caller's own cancellation, or an exception the scheduler does not translate).
    /// </summary>
    public Exception? Translate(RequestExecution execution, Exception ex)
    {
        if (execution.CallerToken.IsCancellationRequested)
        {
            return ex is OperationCanceledException oce && oce.CancellationToken == execution.CallerToken
                ? null
                : new OperationCanceledException("The request was canceled.", ex, execution.CallerToken);
        }

        var redacted = UriRedactor.Redact(execution.Request.RequestUri);
        if (execution.DeadlineExceeded)
        {
            return Fail(execution, RequestFailureReason.DeadlineExceeded, null,
                $"The request to {redacted} did not complete within its deadline ({execution.Attempts} attempt(s)).", ex);
        }

        if (_isDisposed() || ex is ObjectDisposedException)
        {
            return Fail(execution, RequestFailureReason.SchedulerDisposed, null,
                $"The scheduler was disposed before the request to {redacted} completed.", ex);
        }

        if (ex is DispatchFailedException dispatch)
        {
            return Fail(execution, dispatch.Reason, null, $"The request to {redacted} was not sent after {execution.Attempts - 1} attempt(s): {dispatch.Message}", null);
        }

        if (execution.LastClass == ResponseClass.ProxyFailure && ex is HttpRequestException or IOException)
        {
            return Fail(execution, RequestFailureReason.ProxyFailure, null,
                $"The request to {redacted} failed at proxy {execution.LastProxy?.Endpoint.Id} after {execution.Attempts} attempt(s): {DescribeTransportError(ex)}.", ex);
        }

        return ex switch
        {
            AttemptTimeoutException => Fail(execution, RequestFailureReason.AttemptTimeout, null,
                $"The request to {redacted} timed out after {execution.Attempts} attempt(s) of at most {execution.AttemptTimeout.TotalSeconds:0.###} s each.", ex),
            ResponseTooLargeException => Fail(execution, RequestFailureReason.ResponseTooLarge, null,
                $"The response to {redacted} is too large: {ex.Message}", null),
            HttpRequestException or IOException => Fail(execution, RequestFailureReason.TransportError, null,
                $"The request to {redacted} failed after {execution.Attempts} attempt(s): {DescribeTransportError(ex)}.", ex),
            _ => null,
        };
    }

    /// <summary>The request's failure with <paramref name="reason"/>; logged at debug level with the redacted URI.</summary>
    public RequestFailedException Fail(RequestExecution execution, RequestFailureReason reason, HttpStatusCode? status, string message, Exception? inner)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.RequestFailed(_logger, UriRedactor.Redact(execution.Request.RequestUri), execution.Attempts, reason);
        }

        return new RequestFailedException(reason, UriRedactor.Redact(execution.Request.RequestUri), execution.Attempts, status, message, inner)
        {
            ProxiesTried = execution.ProxiesTried,
        };
    }

    private static string DescribeTransportError(Exception ex) => ex switch
    {
        HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } h => h.HttpRequestError.ToString(),
        HttpIOException io => io.HttpRequestError.ToString(),
        _ => ex.GetType().Name,
    };
}
