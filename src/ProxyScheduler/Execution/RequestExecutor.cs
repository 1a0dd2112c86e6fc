using Microsoft.Extensions.Logging;
using Polly;
using ProxyScheduler.Classification;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Execution;

/// <summary>
/// One request's life between admission and its outcome: its attempts (by the <see cref="AttemptRunner"/>), its retries
/// (by the <see cref="RetryPolicy"/>), the redirects it follows (each a hop with attempts of its own), and its end: the
/// response, or the failure the <see cref="FailureTranslator"/> names; counted, traced, and handed to a sink or returned.
/// </summary>
internal sealed class RequestExecutor
{
    private readonly AttemptRunner _attempts;
    private readonly RetryPolicy _retry;
    private readonly FailureTranslator _failures;
    private readonly Dispatcher _dispatcher;
    private readonly SessionResolver _sessions;
    private readonly SchedulerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _attemptTimeout;
    private readonly TimeSpan? _deadline;
    private readonly int _maxRedirects;
    private readonly CancellationToken _disposalToken;

    /// <param name="attempts">Runs one attempt.</param>
    /// <param name="retry">Decides retries.</param>
    /// <param name="failures">Names failures.</param>
    /// <param name="dispatcher">Takes back a first lease a canceled request never used.</param>
    /// <param name="sessions">Which session a request belongs to.</param>
    /// <param name="options">The scheduler's options (attempt timeout, deadline, redirects).</param>
    /// <param name="metrics">Where requests are counted.</param>
    /// <param name="logger">Where redirects are logged (at debug level).</param>
    /// <param name="time">The clock.</param>
    /// <param name="disposalToken">Canceled when the scheduler is disposed.</param>
    public RequestExecutor(AttemptRunner attempts, RetryPolicy retry, FailureTranslator failures, Dispatcher dispatcher, SessionResolver sessions, ProxySchedulerOptions options, SchedulerMetrics metrics, ILogger logger, TimeProvider time, CancellationToken disposalToken)
    {
        _attempts = attempts;
        _retry = retry;
        _failures = failures;
        _dispatcher = dispatcher;
        _sessions = sessions;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _attemptTimeout = options.AttemptTimeout;
        _deadline = options.Deadline;
        _maxRedirects = options.MaxRedirects;
        _disposalToken = disposalToken;
    }

    /// <summary>Gets the default deadline of a request (<see cref="ProxySchedulerOptions.Deadline"/>).</summary>
    public TimeSpan? Deadline => _deadline;

    /// <summary>Gets the default attempt timeout (<see cref="ProxySchedulerOptions.AttemptTimeout"/>).</summary>
    public TimeSpan AttemptTimeout => _attemptTimeout;

    /// <summary>
    /// Runs a request that already holds an admission slot; the caller releases the slot. <paramref name="combinedToken"/>,
    /// when it can be canceled, already covers both the caller's cancellation and the scheduler's disposal. With a
    /// <paramref name="sink"/>, the outcome goes to the sink (after every slot is free) and nothing is thrown or returned.
    /// </summary>
#pragma warning disable CA1031 // With a sink, every failure is the request's outcome.
    public async Task<ScheduledResponse?> ExecuteAsync(
        ScheduledRequest request,
        AttemptPermit? firstLease,
        long firstQueuedAt,
        IOutcomeSink? sink,
        int sessionRebindsAtQueue,
        CancellationToken cancellationToken,
        CancellationToken combinedToken = default)
    {
        _metrics.RequestsStarted.Add(1, new KeyValuePair<string, object?>("http.request.method", request.Method.Method));
        using var activity = SchedulerActivities.Source.StartActivity("ProxyScheduler.Request");
        if (activity is not null)
        {
            activity.SetTag("http.request.method", request.Method.Method);
            activity.SetTag("url.full", UriRedactor.Redact(request.RequestUri));
            activity.SetTag("server.address", request.RequestUri.Host);
            activity.SetTag("server.port", request.RequestUri.Port);
        }

        var deadline = request.Deadline ?? _deadline;
        if (deadline is { } d && firstLease is not null)
        {
            // A batch item's deadline runs from its submission, not from its first grant.
            var waited = _time.GetElapsedTime(firstQueuedAt);
            deadline = d > waited ? d - waited : TimeSpan.FromTicks(1);
        }

        var execution = new RequestExecution(
            request,
            request.AttemptTimeout ?? _attemptTimeout,
            deadline,
            _time,
            cancellationToken,
            _disposalToken,
            combinedToken)
        {
            BodyPool = sink?.BodyPool,
        };
        if (firstLease is { } lease)
        {
            execution.SetFirstLease(lease, firstQueuedAt);
            execution.SubmittedAt = firstQueuedAt;
            if (sessionRebindsAtQueue >= 0)
            {
                execution.NoteSession(_sessions.Resolve(request, request.HostKey, out _), sessionRebindsAtQueue);
            }
        }

        ScheduledResponse? response = null;
        Exception? failure = null;
        ResilienceContext? context = null;
        try
        {
            while (true)
            {
                // The first attempt of each hop runs outside the pipeline. Only an outcome the retry policy handles
                // enters it, and the pipeline then sees that outcome as its first attempt: it decides and delays every
                // retry exactly as if it had run the attempt itself, while the common, successful path skips it.
                var outcome = await _attempts.RunAsync(execution, execution.Token).ConfigureAwait(false);
                if (_retry.HasRetries && _retry.ShouldRetry(outcome, execution))
                {
                    if (context is null)
                    {
                        context = ResilienceContextPool.Shared.Get(execution.Token);
                        context.Properties.Set(RetryPolicy.ExecutionKey, execution);
                    }

                    execution.SetFirstOutcome(outcome);
                    outcome = await _retry.Pipeline.ExecuteOutcomeAsync(
                        static (ctx, state) => state.Execution.TakeFirstOutcome() is { } first
                            ? new ValueTask<Outcome<AttemptResult>>(first)
                            : state.Attempts.RunAsync(state.Execution, ctx.CancellationToken),
                        context,
                        (Attempts: _attempts, Execution: execution)).ConfigureAwait(false);
                }

                if (outcome.Exception is { } ex)
                {
                    failure = ex is RequestFailedException ? ex : _failures.Translate(execution, ex) ?? ex;
                    break;
                }

                using var result = outcome.Result!;
                if (result.Class == ResponseClass.ProxyFailure)
                {
                    // The proxy's own answer (407, 502) is not the target's: no response to return.
                    failure = _failures.Fail(execution, RequestFailureReason.ProxyFailure, result.StatusCode,
                        $"The request to {UriRedactor.Redact(execution.Request.RequestUri)} failed at proxy {execution.LastProxy?.Endpoint.Id} with status {(int)result.StatusCode} after {execution.Attempts} attempt(s).", null);
                    break;
                }

                if (result.RedirectTo is not { } target)
                {
                    response = CreateResponse(execution, result);
                    break;
                }

                var maxRedirects = execution.Request.MaxRedirectsOverride ?? _maxRedirects;
                if (execution.Redirects >= maxRedirects)
                {
                    failure = _failures.Fail(execution, RequestFailureReason.TooManyRedirects, result.StatusCode,
                        $"The request to {UriRedactor.Redact(execution.Request.RequestUri)} was redirected more than {maxRedirects} times.", null);
                    break;
                }

                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    Log.RedirectFollowed(_logger, (int)result.StatusCode, UriRedactor.Redact(execution.Uri), UriRedactor.Redact(target));
                }

                execution.FollowRedirect(target, result.StatusCode);
            }
        }
        catch (Exception ex)
        {
            failure = ex is RequestFailedException ? ex : _failures.Translate(execution, ex) ?? ex;
        }
        finally
        {
            if (context is not null)
            {
                ResilienceContextPool.Shared.Return(context);
            }

            if (execution.TryTakeFirstLease(out var unused, out _))
            {
                // Canceled before the first attempt could use its lease.
                _dispatcher.Release(unused);
            }

            RecordCompletion(execution, response, failure);
            if (activity is not null)
            {
                activity.SetTag("proxyscheduler.attempts", execution.Attempts);
                if (response is not null)
                {
                    activity.SetTag("http.response.status_code", (int)response.StatusCode);
                }
                else if (failure is not null)
                {
                    activity.SetTag("error.type", failure is RequestFailedException f ? f.Reason.ToString() : failure.GetType().Name);
                    activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
                }
            }

            execution.Dispose();
        }

        if (sink is not null)
        {
            sink.Complete(new RequestOutcome(request, response, failure));
            return null;
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return response;
    }
#pragma warning restore CA1031

    /// <summary>Counts a request's end and its duration; tags carry no URI, host, credential or session key.</summary>
    private void RecordCompletion(RequestExecution execution, ScheduledResponse? response, Exception? failure)
    {
        var outcome = response is not null ? "response" : failure is OperationCanceledException ? "canceled" : "failed";
        var status = response is not null ? (int)response.StatusCode : (object?)null;
        var error = failure switch
        {
            null => null,
            RequestFailedException f => f.Reason.ToString(),
            _ => failure.GetType().Name,
        };
        var tags = new System.Diagnostics.TagList
        {
            { "outcome", outcome },
            { "http.response.status_code", status },
            { "error.type", error },
        };
        _metrics.RequestsCompleted.Add(1, tags);
        _metrics.RequestDuration.Record(_time.GetElapsedTime(execution.SubmittedAt).TotalSeconds, tags);
    }

    private ScheduledResponse CreateResponse(RequestExecution execution, AttemptResult result)
    {
        var now = execution.LastAttemptEnd;
        var timings = new ScheduledResponseTimings(
            _time.GetElapsedTime(0, execution.QueuedTicks),
            _time.GetElapsedTime(0, execution.LastAttemptTicks),
            _time.GetElapsedTime(execution.SubmittedAt, now));
        return new ScheduledResponse(
            execution.Request,
            execution.Uri,
            result.StatusCode,
            result.ReasonPhrase,
            result.Version,
            result.Headers,
            result.SourceContentHeaders,
            result.TakeBody(),
            timings,
            execution.Attempts,
            execution.Redirects)
        {
            Proxy = execution.LastProxy?.Endpoint,
            ProxiesTried = execution.ProxiesTried,
            Class = result.Class,
            SessionRebound = execution.SessionRebound,
        };
    }
}
