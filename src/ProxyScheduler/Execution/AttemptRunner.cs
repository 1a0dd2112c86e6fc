using Polly;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Proxies.Sessions.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Execution;

/// <summary>
/// Runs one attempt of a request: takes a lease from the dispatcher (a host permit, a proxy, a global permit), sends
/// through the transport, reads the body within its limit, classifies the answer (what it means and whom it blames),
/// and gives the lease back with that verdict, which teaches the proxy's and the host's health. Failures are returned
/// as outcomes rather than thrown (Polly's outcome-based execution), which spares a frame and a throw per attempt.
/// </summary>
internal sealed class AttemptRunner
{
    private readonly Dispatcher _dispatcher;
    private readonly HttpTransport _transport;
    private readonly SessionResolver _sessions;
    private readonly FailureTranslator _failures;
    private readonly TimeoutTokenPool _attemptTokens;
    private readonly SchedulerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly long _maxBodySize;
    private readonly bool _followsRedirects;

    /// <param name="dispatcher">The dispatcher leases come from and go back to.</param>
    /// <param name="transport">The transport that sends through a proxy or direct.</param>
    /// <param name="sessions">Which session an attempt belongs to.</param>
    /// <param name="failures">Builds the failure of a refused redirect.</param>
    /// <param name="metrics">Where attempts are counted.</param>
    /// <param name="time">The clock.</param>
    /// <param name="maxBodySize">The largest response body read.</param>
    /// <param name="followsRedirects">Whether redirects are followed at all (<see cref="ProxySchedulerOptions.MaxRedirects"/> above 0).</param>
    public AttemptRunner(Dispatcher dispatcher, HttpTransport transport, SessionResolver sessions, FailureTranslator failures, SchedulerMetrics metrics, TimeProvider time, long maxBodySize, bool followsRedirects)
    {
        _dispatcher = dispatcher;
        _transport = transport;
        _sessions = sessions;
        _failures = failures;
        _metrics = metrics;
        _time = time;
        _attemptTokens = new TimeoutTokenPool(time);
        _maxBodySize = maxBodySize;
        _followsRedirects = followsRedirects;
    }

    /// <summary>Runs the request's next attempt; <paramref name="cancellationToken"/> covers the caller, the deadline and disposal.</summary>
#pragma warning disable CA1031 // Every failure of an attempt becomes its outcome; the caller rethrows after retries.
    public async ValueTask<Outcome<AttemptResult>> RunAsync(RequestExecution execution, CancellationToken cancellationToken)
    {
        execution.Attempts++;
        var session = _sessions.Resolve(execution.Request, execution.HostKey, out var cookieSession);
        if (!execution.TryTakeFirstLease(out var lease, out var queuedAt))
        {
            execution.NoteSession(session, session?.Rebinds ?? -1);
            queuedAt = _time.GetTimestamp();
            try
            {
                lease = await _dispatcher.AcquireAsync(execution.HostKey, execution.Request.Priority, execution.Request.Proxy, execution.Excluded, session, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                execution.Record(null, null);
                return Outcome.FromException<AttemptResult>(ex);
            }
        }

        var startedAt = _time.GetTimestamp();
        execution.QueuedTicks += startedAt - queuedAt;
        ResponseClass? outcomeClass = null;
        var verdict = AttemptVerdict.Success;
        var attemptActivity = SchedulerActivities.Source.StartActivity("ProxyScheduler.Attempt");
        if (attemptActivity is not null)
        {
            attemptActivity.SetTag("proxyscheduler.attempt", execution.Attempts);
            attemptActivity.SetTag("proxyscheduler.proxy.id", lease.Proxy?.Endpoint.Id ?? "direct");
            attemptActivity.SetTag("url.full", UriRedactor.Redact(execution.Uri));
        }

        try
        {
            var attemptCts = _attemptTokens.Rent(execution.AttemptTimeout);
            var link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), attemptCts);
            HttpResponseMessage? response = null;
            var body = ResponseBody.Empty;
            try
            {
                var cookies = cookieSession is null ? null : SessionResolver.CookiesOf(cookieSession);
                using var message = execution.CreateMessage(cookies);
                response = await _transport.SendAsync(lease.Proxy, message, attemptCts.Token).ConfigureAwait(false);
                if (cookies is not null)
                {
                    HttpSemantics.StoreCookies(cookies, execution.Uri, response);
                }

                Uri? redirectTo = null;
                if (_followsRedirects)
                {
                    redirectTo = HttpSemantics.RedirectTarget(execution.Uri, response, out var invalid, out var cause);
                    if (invalid is not null)
                    {
                        throw _failures.Fail(execution, RequestFailureReason.InvalidRedirect, response.StatusCode, invalid, cause);
                    }
                }

                if (redirectTo is null && execution.Method != HttpMethod.Head)
                {
                    body = execution.Request.BodyPrefixLimit is { } prefix
                        ? await ResponseBodyReader.ReadPrefixAsync(response.Content, prefix, attemptCts.Token).ConfigureAwait(false)
                        : await ResponseBodyReader.ReadAsync(response.Content, _maxBodySize, execution.BodyPool, attemptCts.Token).ConfigureAwait(false);
                }

                verdict = Classify(execution, lease, response, body.Memory, null);
                outcomeClass = verdict.Class;
                if (session is not null && lease.Proxy?.Endpoint.Gateway?.ExitHeader is { } exitHeader
                    && response.Headers.TryGetValues(exitHeader, out var exits) && exits.FirstOrDefault() is { Length: > 0 } exit
                    && SessionBinder.ExitChanged(session, exit))
                {
                    // Strict gateway: the exit moved under the session, which is the session's failure, not an answer.
                    outcomeClass = ResponseClass.ProxyFailure;
                    verdict = new AttemptVerdict(ResponseClass.ProxyFailure, AttemptBlame.Proxy, FailureKind.Other);
                }

                var retryAfter = HttpSemantics.RetryAfter(response, _time.GetUtcNow());
                if (retryAfter is { } pause)
                {
                    // The host asked everyone to wait: a host matter, for every proxy and every queued request.
                    _dispatcher.PauseHost(lease.Host, pause);
                }

                var result = new AttemptResult(response, body, redirectTo, retryAfter) { Class = outcomeClass.Value };
                body = ResponseBody.Empty; // the result owns it now
                return Outcome.FromResult(result);
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException
                && !cancellationToken.IsCancellationRequested && attemptCts.IsCancellationRequested)
            {
                var timeout = new AttemptTimeoutException(execution.AttemptTimeout, ex);
                verdict = Classify(execution, lease, null, default, timeout);
                outcomeClass = verdict.Class;
                return Outcome.FromException<AttemptResult>(timeout);
            }
            catch (Exception ex)
            {
                // A canceled attempt (caller, deadline, disposal) is never classified, so never charged to the proxy.
                if (!cancellationToken.IsCancellationRequested)
                {
                    verdict = Classify(execution, lease, response, default, ex);
                    outcomeClass = verdict.Class;
                }

                return Outcome.FromException<AttemptResult>(ex);
            }
            finally
            {
                body.Return();
                response?.Dispose();
                link.Dispose();
                _attemptTokens.Return(attemptCts);
            }
        }
        finally
        {
            execution.LastAttemptEnd = _time.GetTimestamp();
            execution.LastAttemptTicks = execution.LastAttemptEnd - startedAt;
            if (attemptActivity is not null)
            {
                attemptActivity.SetTag("proxyscheduler.class", outcomeClass is { } cls ? ResponseClassNames.Of(cls) : "canceled");
                attemptActivity.Dispose();
            }

            _metrics.AttemptDuration.Record(
                _time.GetElapsedTime(startedAt, execution.LastAttemptEnd).TotalSeconds,
                new KeyValuePair<string, object?>("proxy.id", lease.Proxy?.Endpoint.Id ?? "direct"),
                new KeyValuePair<string, object?>("class", outcomeClass is { } c ? ResponseClassNames.Of(c) : "canceled"));
            execution.Record(lease.Proxy, outcomeClass, verdict);
            if (_dispatcher.Release(lease, outcomeClass, execution.LastAttemptTicks, session, verdict))
            {
                // Other proxies reach the host: the failure was this proxy's with it, and spends the proxy budget.
                execution.ChargeLastFailureToProxy();
            }
        }
    }
#pragma warning restore CA1031

    /// <summary>What the attempt's answer (or failure) means and whom it blames, by the host's classifier.</summary>
    private AttemptVerdict Classify(RequestExecution execution, AttemptPermit lease, HttpResponseMessage? response, ReadOnlyMemory<byte> body, Exception? exception)
    {
        if (exception is ResponseTooLargeException or RequestFailedException)
        {
            return new AttemptVerdict(ResponseClass.Fatal, AttemptBlame.None, FailureKind.None);
        }

        var status = exception is null ? response?.StatusCode : null;
        var context = new ResponseClassificationContext(execution.Uri, lease.Proxy?.Endpoint, status, response?.Headers, body, exception);
        var classifier = lease.Host.Settings.Classifier;
        var outcome = classifier.Classify(in context);
        var blame = outcome == ResponseClass.Success ? AttemptBlame.None : classifier.Blame(in context, outcome);
        _metrics.Attempts.Add(1,
            new KeyValuePair<string, object?>("proxy.id", lease.Proxy?.Endpoint.Id ?? "direct"),
            new KeyValuePair<string, object?>("class", ResponseClassNames.Of(outcome)));
        return new AttemptVerdict(outcome, blame, outcome == ResponseClass.Success ? FailureKind.None : AttemptVerdict.KindOf(outcome, status, exception));
    }
}
