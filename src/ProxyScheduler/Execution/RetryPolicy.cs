using System.Net;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;

namespace ProxyScheduler.Execution;

/// <summary>
/// Decides whether a failed attempt is retried, and how soon, by whom the failure was blamed: a proxy's own failure
/// goes to an untried proxy at once, a target's failure comes back after the backoff (through the least recently failed
/// proxy that still serves, once every proxy has failed the request), a <c>Retry-After</c> sets the delay (capped). The
/// delays and the attempt count run in a Polly retry pipeline on the scheduler's <see cref="TimeProvider"/>.
/// </summary>
internal sealed class RetryPolicy
{
    /// <summary>The key under which the pipeline's context carries the request being retried.</summary>
    public static readonly ResiliencePropertyKey<RequestExecution> ExecutionKey = new("ProxyScheduler.Execution");

    private readonly Dispatcher _dispatcher;
    private readonly SchedulerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly bool _retryNonIdempotent;
    private readonly TimeSpan _maxRetryDelay;
    private readonly int _maxRetries;
    private readonly int _maxProxyRetries;

    /// <param name="retry">The retry options.</param>
    /// <param name="dispatcher">The dispatcher, asked whether a proxy is left for a retry.</param>
    /// <param name="time">The clock the delays run on.</param>
    /// <param name="metrics">Where retries are counted.</param>
    /// <param name="logger">Where retries are logged (at debug level).</param>
    public RetryPolicy(RetryOptions retry, Dispatcher dispatcher, TimeProvider time, SchedulerMetrics metrics, ILogger logger)
    {
        _dispatcher = dispatcher;
        _metrics = metrics;
        _logger = logger;
        _retryNonIdempotent = retry.RetryNonIdempotent;
        _maxRetryDelay = retry.MaxDelay;
        _maxRetries = retry.MaxRetries;
        _maxProxyRetries = dispatcher.HasPool ? retry.MaxProxyRetries : 0;
        HasRetries = _maxRetries + _maxProxyRetries > 0;
        Pipeline = BuildPipeline(retry, time);
    }

    /// <summary>Gets a value indicating whether any retry can happen (else the pipeline is never entered).</summary>
    public bool HasRetries { get; }

    /// <summary>Gets the pipeline that delays and repeats attempts.</summary>
    public ResiliencePipeline<AttemptResult> Pipeline { get; }

    /// <summary>Whether the outcome of the request's last attempt is retried.</summary>
    public bool ShouldRetry(Outcome<AttemptResult> outcome, RequestExecution execution)
    {
        if (execution.Token.IsCancellationRequested || execution.LastClass is not { } outcomeClass)
        {
            return false;
        }

        var mayRepeat = execution.IsIdempotent || _retryNonIdempotent;
        var neverSent = outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.ProxyTunnelError };
        switch (outcomeClass)
        {
            case ResponseClass.ProxyFailure:
                // A failure at the proxy before anything was sent (refused, tunnel, 407) may always be repeated elsewhere.
                // The proxy's own failure (refused, 407, its own 5xx) goes to an untried proxy only: the same proxy
                // would fail the same way. A transient one on the way to the target (502/504, a tunnel that could not
                // reach it) may come back to the least recently failed proxy after the backoff, once every proxy has
                // failed the request; the proxy budget bounds both.
                return execution.ProxyFailures <= _maxProxyRetries
                    && (mayRepeat || neverSent || outcome.Result?.StatusCode == HttpStatusCode.ProxyAuthenticationRequired)
                    && (execution.LastVerdict.Blame == AttemptBlame.ProxyAndHost
                        ? HasProxyFor(execution)
                        : _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded));
            case ResponseClass.Blocked:
                // Blocked proxies stay blocked for the host: only an untried proxy can help.
                return execution.LastProxy is not null && mayRepeat && execution.ProxyFailures <= _maxProxyRetries
                    && _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded);
            case ResponseClass.Throttled:
                return execution.TargetFailures <= _maxRetries && (outcome.Result?.StatusCode == HttpStatusCode.TooManyRequests || mayRepeat);
            case ResponseClass.TargetFailure:
                return execution.TargetFailures <= _maxRetries && execution.ProxyFailures <= _maxProxyRetries && (mayRepeat || neverSent)
                    && (execution.LastProxy is null || HasProxyFor(execution));
            default:
                return false;
        }
    }

    private bool ShouldRetry(Outcome<AttemptResult> outcome, ResilienceContext context) =>
        context.Properties.TryGetValue(ExecutionKey, out var execution) && ShouldRetry(outcome, execution);

    /// <summary>
    /// Whether a proxy is left for the request's retry: an untried one that the host does not block or rest (a quarantined
    /// one is waited for), or else the least recently failed one, when it still serves the host (a retry never waits on
    /// the reanimation of a proxy that failed it, nor on a pair's rest while a proxy that merely met the host's failure
    /// could carry it).
    /// </summary>
    private bool HasProxyFor(RequestExecution execution) =>
        _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded, host: execution.HostKey)
        || (execution.ReuseLeastRecentlyFailed() && _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded, healthyOnly: true, host: execution.HostKey));

    private ResiliencePipeline<AttemptResult> BuildPipeline(RetryOptions retry, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = time };
        if (HasRetries)
        {
            builder.AddRetry(new RetryStrategyOptions<AttemptResult>
            {
                MaxRetryAttempts = retry.MaxRetries + _maxProxyRetries,
                Delay = retry.BaseDelay,
                MaxDelay = retry.MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = retry.UseJitter,
                ShouldHandle = args => new ValueTask<bool>(ShouldRetry(args.Outcome, args.Context)),
                DelayGenerator = args => new ValueTask<TimeSpan?>(
                    args.Context.Properties.TryGetValue(ExecutionKey, out var execution) && execution.LastClass is ResponseClass.ProxyFailure or ResponseClass.Blocked && !execution.ReusesFailedProxy
                        ? TimeSpan.Zero // another proxy is tried at once
                        : args.Outcome.Result?.RetryAfter is { } retryAfter ? (retryAfter > _maxRetryDelay ? _maxRetryDelay : retryAfter) : null),
                OnRetry = args =>
                {
                    _metrics.Retries.Add(1, new KeyValuePair<string, object?>("class",
                        args.Context.Properties.TryGetValue(ExecutionKey, out var retried) && retried.LastClass is { } retriedClass ? ResponseClassNames.Of(retriedClass) : "unknown"));
                    if (_logger.IsEnabled(LogLevel.Debug) && args.Context.Properties.TryGetValue(ExecutionKey, out var execution))
                    {
                        var cause = args.Outcome.Exception is { } e ? e.GetType().Name : ((int)args.Outcome.Result!.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        Log.RetryScheduled(_logger, UriRedactor.Redact(execution.Uri), args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1, cause);
                    }

                    return default;
                },
            });
        }

        return builder.Build();
    }
}
