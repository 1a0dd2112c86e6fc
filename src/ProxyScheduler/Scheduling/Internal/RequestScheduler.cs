using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using ProxyScheduler.Classification;
using ProxyScheduler.Classification.Internal;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Execution;
using ProxyScheduler.Fleet;
using ProxyScheduler.Politeness.Internal;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Proxies.Sessions.Internal;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// The scheduler: admits requests up to <see cref="ProxySchedulerOptions.QueueLimit"/>, runs each attempt under a
/// permit of the <see cref="Dispatcher"/>, retries through a Polly pipeline, follows redirects itself, and buffers
/// responses.
/// </summary>
#pragma warning disable RS0026 // Implements IRequestScheduler.
internal sealed class RequestScheduler : IRequestScheduler, IDisposable
{
    private static readonly ResiliencePropertyKey<RequestExecution> ExecutionKey = new("ProxyScheduler.Execution");

    // Keys of per-host sessions (Fixed rotation) start with a control character, which a caller's key cannot contain.
    private const string FixedSessionPrefix = "\u0001fixed:";

    private readonly Dispatcher _dispatcher;
    private readonly HttpTransport _transport;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<AttemptResult> _pipeline;
    private readonly SemaphoreSlim _admission;
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly TimeoutTokenPool _attemptTokens;
    private readonly TimeSpan _attemptTimeout;
    private readonly TimeSpan? _deadline;
    private readonly long _maxBodySize;
    private readonly RobotsCache? _robots;
    private readonly int _maxRedirects;
    private readonly bool _retryNonIdempotent;
    private readonly TimeSpan _maxRetryDelay;
    private readonly bool _hasRetries;
    private readonly int _maxRetries;
    private readonly int _maxProxyRetries;
    private readonly SchedulerMetrics _metrics;
    private readonly ProxySource? _proxySource;
    private readonly SessionOptions _sessionOptions;
    private readonly ISessionStore _sessionStore;
    private readonly IReadOnlyList<GatewayPreset> _sessionKeyPresets = [];
    private volatile bool _disposed;

    public RequestScheduler(ProxySchedulerOptions options, IHttpMessageHandlerFactory handlerFactory, TimeProvider time, ILoggerFactory loggerFactory)
        : this(options, handlerFactory, time, loggerFactory, SchedulerComponents.Empty)
    {
    }

    /// <exception cref="InvalidOperationException">A named selector or classifier is not registered, or a proxy source cannot be read at start.</exception>
    public RequestScheduler(ProxySchedulerOptions options, IHttpMessageHandlerFactory handlerFactory, TimeProvider time, ILoggerFactory loggerFactory, SchedulerComponents components)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlerFactory);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);

        _time = time;
        _attemptTokens = new TimeoutTokenPool(time);
        _logger = loggerFactory.CreateLogger("ProxyScheduler");
        ArgumentNullException.ThrowIfNull(components);
        _metrics = new SchedulerMetrics(components.MeterFactory);
        var classifiers = new Dictionary<string, IResponseClassifier>(StringComparer.OrdinalIgnoreCase);
        foreach (var classifier in components.Classifiers)
        {
            classifiers[classifier.Name] = classifier;
        }

        var providers = components.Providers.ToList();
        if (options.Proxies.Count > 0 && components.Registry is not null && !providers.Any(static p => p is ConfigurationProxyProvider))
        {
            providers.Add(new StaticProxyProvider(ProxyEndpoint.ParseList(options.Proxies)));
        }

        providers.RemoveAll(p => p is ConfigurationProxyProvider && options.Proxies.Count == 0);
        ProxyPool? pool = null;
        if (providers.Count > 0)
        {
            var registry = components.Registry ?? throw new InvalidOperationException("Proxies need the scheduler's transport registry; register the scheduler with AddProxyScheduler.");
            pool = new ProxyPool(options.ProxyPool, ResolveSelector(options.ProxyPool.Selector, components.Selectors), time, registry, loggerFactory.CreateLogger("ProxyScheduler.Proxies"), _metrics);
        }

        _sessionOptions = options.Sessions;
        _sessionStore = components.SessionStore ?? new InMemorySessionStore(options.Sessions.MaxSessions);
        _dispatcher = new Dispatcher(options.MaxConcurrency, new HostSettingsResolver(options, classifiers), time, pool,
            pool is null ? null : new SessionBinder(options.Sessions, time, _metrics, loggerFactory.CreateLogger("ProxyScheduler.Sessions"), _sessionStore as ISessionBindingObserver),
            _logger)
        {
            HostHealth = options.HostHealth,
            Metrics = _metrics,
            MaxWaitForProxy = options.ProxyPool.MaxWaitForProxy,
        };
        components.Fleet?.Attach(_dispatcher);
        _transport = new HttpTransport(handlerFactory);
        _admission = new SemaphoreSlim(options.QueueLimit, options.QueueLimit);
        QueueLimit = options.QueueLimit;
        PostProcessingDefaults = (options.PostProcessing ?? new Processing.PostProcessingOptions()).Clone();
        _metrics.Observe(
            () =>
            {
                var counts = _dispatcher.GetCounts();
                return (counts.Queued, counts.InFlight);
            },
            ProxiesByState,
            () => Volatile.Read(ref _processingBacklog));
        _metrics.ObserveWaits(() =>
        {
            var waits = _dispatcher.GetWaits();
            return (waits.HostsDown, waits.WaitingForProxy);
        });
        if (options.PerHostMetrics.Count > 0)
        {
            _metrics.ObserveHosts(_dispatcher.MeasureHosts);
        }

        if (options.Robots is { Enabled: true } robots)
        {
            _robots = new RobotsCache(robots, time, FetchRobotsAsync);
        }
        _attemptTimeout = options.AttemptTimeout;
        _deadline = options.Deadline;
        _maxBodySize = options.MaxResponseBodySize;
        _maxRedirects = options.MaxRedirects;
        _retryNonIdempotent = options.Retry.RetryNonIdempotent;
        _maxRetryDelay = options.Retry.MaxDelay;
        _maxRetries = options.Retry.MaxRetries;
        _maxProxyRetries = pool is null ? 0 : options.Retry.MaxProxyRetries;
        _pipeline = BuildPipeline(options.Retry, time);
        _hasRetries = _maxRetries + _maxProxyRetries > 0;
        if (pool is not null)
        {
            _proxySource = new ProxySource(providers, _dispatcher.UpdateProxies, loggerFactory.CreateLogger("ProxyScheduler.Proxies"));
            _sessionKeyPresets = _dispatcher.SessionKeyPresets();
        }
    }

    public int QueueLimit { get; }

    /// <summary>Gets a value indicating whether proxies are configured (a pool exists, even if it is empty now).</summary>
    public bool UsesProxies => _dispatcher.HasPool;

    /// <summary>Gets the global concurrency limit.</summary>
    internal int MaxConcurrency => _dispatcher.GlobalLimit;

    /// <summary>Gets the largest response body read.</summary>
    internal long MaxResponseBodySize => _maxBodySize;

    /// <summary>Gets the options post-processing pipelines start from.</summary>
    internal Processing.PostProcessingOptions PostProcessingDefaults { get; }

    /// <summary>The library's scheduler behind <paramref name="scheduler"/>, which the post-processing stage needs.</summary>
    /// <exception cref="ArgumentException">It is another implementation of <see cref="IRequestScheduler"/>.</exception>
    internal static RequestScheduler From(IRequestScheduler scheduler, string paramName)
    {
        ArgumentNullException.ThrowIfNull(scheduler, paramName);
        return scheduler as RequestScheduler ?? throw new ArgumentException(
            $"Post-processing needs the scheduler registered by AddProxyScheduler (it holds back dispatching when processing falls behind); {scheduler.GetType().Name} is another implementation of IRequestScheduler.",
            paramName);
    }

    /// <summary>Gets the scheduler's clock.</summary>
    internal TimeProvider Time => _time;

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>The robots.txt rules for <paramref name="request"/>'s host, when robots.txt is obeyed and the request is not itself a robots.txt fetch.</summary>
    internal Task<RobotsRules>? RobotsFor(ScheduledRequest request) =>
        _robots is null || request.SkipRobots ? null : _robots.GetAsync(request.RequestUri);

    /// <summary>Applies the host's robots.txt to a request: the failure when it is disallowed; otherwise the host's crawl delay is set and <see langword="null"/> returned.</summary>
    internal RequestFailedException? CheckRobots(ScheduledRequest request, RobotsRules rules)
    {
        var options = _robots!.Options;
        if (!rules.IsAllowed(request.RequestUri.PathAndQuery))
        {
            var redacted = UriRedactor.Redact(request.RequestUri);
            if (rules.Unreachable is { } why)
            {
                return new RequestFailedException(RequestFailureReason.DisallowedByRobots, redacted, 0, null,
                    $"The robots.txt of {request.HostKey} could not be read ({why}); RFC 9309 says to assume every path disallowed until it can be, so {redacted} was not sent. It is fetched again after {options.UnreachableRetryInterval}.", null);
            }

            return new RequestFailedException(RequestFailureReason.DisallowedByRobots, redacted, 0, null,
                $"The robots.txt of {request.HostKey} disallows {redacted} for the user agent '{options.UserAgent}'; the request was not sent.", null);
        }

        if (options.ObeyCrawlDelay && rules.CrawlDelay is { } delay && delay > TimeSpan.Zero)
        {
            _dispatcher.SetCrawlDelay(request.HostKey, delay < options.MaxCrawlDelay ? delay : options.MaxCrawlDelay);
        }

        return null;
    }

    /// <summary>
    /// Fetches a host's robots.txt through the scheduler itself (its limits, its proxies), outside admission, as RFC 9309
    /// says: 2xx is parsed (the first 500 KiB), 4xx allows everything, 429, 5xx and every failure to get an answer
    /// (refused, reset, timed out, no proxy, more than five redirects excepted) disallow everything until the next try.
    /// The whole fetch, retries and redirects included, is bounded by the attempt timeout.
    /// </summary>
    private async Task<RobotsRules> FetchRobotsAsync(Uri robots)
    {
        var request = new ScheduledRequest(robots)
        {
            SkipRobots = true,
            MaxRedirectsOverride = RobotsRules.MaxRedirects,
            BodyPrefixLimit = RobotsRules.MaxSize,
            Deadline = _attemptTimeout > TimeSpan.Zero && _attemptTimeout != Timeout.InfiniteTimeSpan ? _attemptTimeout : TimeSpan.FromSeconds(30),
        };
        request.Headers["User-Agent"] = _robots!.Options.UserAgent;
        ScheduledResponse response;
        try
        {
            response = (await ExecuteAdmittedAsync(request, null, 0, null, -1, _disposeCts.Token).ConfigureAwait(false))!;
        }
        catch (RequestFailedException ex) when (ex.Reason is RequestFailureReason.TooManyRedirects or RequestFailureReason.InvalidRedirect)
        {
            return RobotsRules.AllowAll; // RFC 9309, 2.3.1.2: past five redirects the file may be taken as unavailable (4xx).
        }
        catch (RequestFailedException ex)
        {
            return RobotsRules.DisallowAll(ex.Reason.ToString());
        }

        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            var body = response.Body.Span;
            var text = System.Text.Encoding.UTF8.GetString(body.Length > RobotsRules.MaxSize ? body[..RobotsRules.MaxSize] : body);
            return RobotsRules.Parse(text, _robots.Options.UserAgent);
        }

        return status is >= 400 and < 500 and not 429 ? RobotsRules.AllowAll : RobotsRules.DisallowAll($"status {status}");
    }

    internal DispatchGate OpenGate(int capacity) => _dispatcher.OpenGate(capacity);

    internal void ReleaseGate(DispatchGate gate, int count = 1) => _dispatcher.ReleaseGate(gate, count);

    internal void CloseGate(DispatchGate gate) => _dispatcher.CloseGate(gate);

    public Task<ScheduledResponse> SendAsync(ScheduledRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequestValidator.Validate(request, nameof(request));
        ValidateSessionKey(request, nameof(request));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return SendCoreAsync(request, cancellationToken);
    }

    public IAsyncEnumerable<RequestOutcome> SendAllAsync(IAsyncEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return RunBatchAsync(requests, cancellationToken);
    }

    /// <summary>Each enumeration of <see cref="SendAllAsync(IAsyncEnumerable{ScheduledRequest}, CancellationToken)"/> is a batch of its own.</summary>
    private async IAsyncEnumerable<RequestOutcome> RunBatchAsync(IAsyncEnumerable<ScheduledRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var outcome in new BatchRun(this, requests).RunAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return outcome;
        }
    }

    public IAsyncEnumerable<RequestOutcome> SendAllAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return SendAllAsync(ToAsync(requests, cancellationToken), cancellationToken);
    }

    public SchedulerSnapshot GetSnapshot()
    {
        var hosts = _dispatcher.GetHostSnapshots(out var queued, out var inFlight);
        var waits = _dispatcher.GetWaits();
        return new SchedulerSnapshot(QueueLimit - _admission.CurrentCount, queued, inFlight, _dispatcher.GlobalLimit, hosts)
        {
            Proxies = _dispatcher.GetProxySnapshots(),
            Sessions = _sessionStore.Count,
            HostsDown = waits.HostsDown,
            WaitingForProxy = waits.WaitingForProxy,
            WaitingForProxyReason = waits.WaitingForProxy > 0 ? waits.ProxyExplanation : null,
        };
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _proxySource?.Dispose();
        _disposeCts.Cancel();
        _dispatcher.Dispose();
        _metrics.Dispose();
    }

    internal Task WaitForAdmissionAsync(CancellationToken cancellationToken) => _admission.WaitAsync(cancellationToken);

    internal bool TryEnterAdmission() => _admission.Wait(0, CancellationToken.None);

    internal void ReleaseAdmission() => _admission.Release();

    /// <summary>Queues the first attempt of an admitted request without starting its execution (see <see cref="DeferredWaiter"/>).</summary>
    /// <exception cref="ObjectDisposedException">The scheduler was disposed.</exception>
    internal void EnqueueFirstAttempt(DeferredWaiter waiter, ScheduledRequest request)
    {
        waiter.Requirement = request.Proxy;
        if (ResolveSession(request, request.HostKey, out _) is { } session)
        {
            waiter.Session = session;
            waiter.SessionRebindsAtQueue = session.Rebinds;
        }

        if ((request.Deadline ?? _deadline) is { } deadline)
        {
            waiter.DeadlineAt = _time.GetTimestamp() + _time.ToTimestampTicks(deadline);
        }

        _dispatcher.Enqueue(waiter, request.HostKey, request.Priority);
    }

    /// <summary>
    /// Checks a session key against the rules of gateways that send it as their session id: a gateway silently ignores an
    /// id it does not understand, so a bad one fails at once (the message names the rule, never the key).
    /// </summary>
    /// <exception cref="ArgumentException">The key breaks a gateway's session id rules.</exception>
    internal void ValidateSessionKey(ScheduledRequest request, string paramName)
    {
        if (request.SessionKey is not { } key || _sessionKeyPresets.Count == 0)
        {
            return;
        }

        foreach (var preset in _sessionKeyPresets)
        {
            if (preset.ValidateSessionId(key) is { } problem)
            {
                throw new ArgumentException($"The request's SessionKey is sent as the gateway's session id, and {problem}", paramName);
            }
        }
    }

    /// <summary>Turns a failure handed over by the dispatcher for a queued batch item into the request's outcome.</summary>
    internal static Exception TranslateDispatchFailure(ScheduledRequest request, Exception failure) =>
        failure is DispatchFailedException dispatch
            ? new RequestFailedException(dispatch.Reason, UriRedactor.Redact(request.RequestUri), 0, null,
                $"The request to {UriRedactor.Redact(request.RequestUri)} was not sent: {dispatch.Message}", null)
            : failure;

    internal void CancelQueued(object group, CancellationToken cancellationToken) => _dispatcher.CancelGroup(group, cancellationToken);

    /// <summary>Gets a token that is canceled when the scheduler is disposed.</summary>
    internal CancellationToken DisposalToken => _disposeCts.Token;

    /// <summary>
    /// Runs a request that already holds an admission slot; the caller releases the slot. <paramref name="combinedToken"/>,
    /// when it can be canceled, already covers both the caller's cancellation and the scheduler's disposal. With a
    /// <paramref name="sink"/>, the outcome goes to the sink (after every slot is free) and nothing is thrown or returned.
    /// </summary>
#pragma warning disable CA1031 // With a sink, every failure is the request's outcome.
    internal async Task<ScheduledResponse?> ExecuteAdmittedAsync(
        ScheduledRequest request,
        DispatchLease? firstLease,
        long firstQueuedAt,
        BatchItem? sink,
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
            _disposeCts.Token,
            combinedToken)
        {
            BodyPool = sink?.Batch.BodyPool,
        };
        if (firstLease is { } lease)
        {
            execution.SetFirstLease(lease, firstQueuedAt);
            execution.SubmittedAt = firstQueuedAt;
            if (sessionRebindsAtQueue >= 0)
            {
                execution.NoteSession(ResolveSession(request, request.HostKey, out _), sessionRebindsAtQueue);
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
                var outcome = await RunAttemptAsync(execution, execution.Token).ConfigureAwait(false);
                if (_hasRetries && ShouldRetry(outcome, execution))
                {
                    if (context is null)
                    {
                        context = ResilienceContextPool.Shared.Get(execution.Token);
                        context.Properties.Set(ExecutionKey, execution);
                    }

                    execution.SetFirstOutcome(outcome);
                    outcome = await _pipeline.ExecuteOutcomeAsync(
                        static (ctx, state) => state.Execution.TakeFirstOutcome() is { } first
                            ? new ValueTask<Outcome<AttemptResult>>(first)
                            : state.Scheduler.RunAttemptAsync(state.Execution, ctx.CancellationToken),
                        context,
                        (Scheduler: this, Execution: execution)).ConfigureAwait(false);
                }

                if (outcome.Exception is { } ex)
                {
                    failure = ex is RequestFailedException ? ex : TranslateFailure(execution, ex) ?? ex;
                    break;
                }

                using var result = outcome.Result!;
                if (result.Class == ResponseClass.ProxyFailure)
                {
                    // The proxy's own answer (407, 502) is not the target's: no response to return.
                    failure = Fail(execution, RequestFailureReason.ProxyFailure, result.StatusCode,
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
                    failure = Fail(execution, RequestFailureReason.TooManyRedirects, result.StatusCode,
                        $"The request to {UriRedactor.Redact(execution.Request.RequestUri)} was redirected more than {maxRedirects} times.", null);
                    break;
                }

                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    Execution.Log.RedirectFollowed(_logger, (int)result.StatusCode, UriRedactor.Redact(execution.Uri), UriRedactor.Redact(target));
                }

                execution.FollowRedirect(target, result.StatusCode);
            }
        }
        catch (Exception ex)
        {
            failure = ex is RequestFailedException ? ex : TranslateFailure(execution, ex) ?? ex;
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

    private async Task<ScheduledResponse> SendCoreAsync(ScheduledRequest request, CancellationToken cancellationToken)
    {
        if (RobotsFor(request) is { } robots)
        {
            // Before admission: the fetch of a robots.txt needs no slot of the caller's, so many requests waiting for
            // one never hold up the fetch.
            if (CheckRobots(request, await robots.WaitAsync(cancellationToken).ConfigureAwait(false)) is { } refusal)
            {
                throw refusal;
            }
        }

        await _admission.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return (await ExecuteAdmittedAsync(request, null, 0, null, -1, cancellationToken).ConfigureAwait(false))!;
        }
        finally
        {
            _admission.Release();
        }
    }

    /// <summary>
    /// Runs one attempt: waits for the host's turn, sends, buffers, and gives the slots back. Failures are returned as
    /// outcomes rather than thrown (Polly's outcome-based execution), which spares a frame and a throw per attempt.
    /// </summary>
#pragma warning disable CA1031 // Every failure of an attempt becomes its outcome; the caller rethrows after retries.
    private async ValueTask<Outcome<AttemptResult>> RunAttemptAsync(RequestExecution execution, CancellationToken cancellationToken)
    {
        execution.Attempts++;
        var session = ResolveSession(execution.Request, execution.HostKey, out var cookieSession);
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
                var cookies = cookieSession is null ? null : CookiesOf(cookieSession);
                using var message = execution.CreateMessage(cookies);
                response = await _transport.SendAsync(lease.Proxy, message, attemptCts.Token).ConfigureAwait(false);
                if (cookies is not null)
                {
                    StoreCookies(cookies, execution.Uri, response);
                }

                var redirectTo = GetRedirectTarget(execution, response);
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

                var retryAfter = GetRetryAfter(response);
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
                attemptActivity.SetTag("proxyscheduler.class", outcomeClass is { } cls ? ClassName(cls) : "canceled");
                attemptActivity.Dispose();
            }

            _metrics.AttemptDuration.Record(
                _time.GetElapsedTime(startedAt, execution.LastAttemptEnd).TotalSeconds,
                new KeyValuePair<string, object?>("proxy.id", lease.Proxy?.Endpoint.Id ?? "direct"),
                new KeyValuePair<string, object?>("class", outcomeClass is { } c ? ClassName(c) : "canceled"));
            execution.Record(lease.Proxy, outcomeClass, verdict);
            if (_dispatcher.Release(lease, outcomeClass, execution.LastAttemptTicks, session, verdict))
            {
                // Other proxies reach the host: the failure was this proxy's with it, and spends the proxy budget.
                execution.ChargeLastFailureToProxy();
            }
        }
    }

    /// <summary>
    /// The session of an attempt: for <see cref="ProxyRotation.Sticky"/> the request's session key, for
    /// <see cref="ProxyRotation.Fixed"/> one session per host; none for per-request rotation. <paramref name="cookies"/>
    /// is the session whose cookies the request carries (its session key's, when sessions keep cookies).
    /// </summary>
    private SessionState? ResolveSession(ScheduledRequest request, in HostKey host, out SessionState? cookies)
    {
        cookies = null;
        var key = request.SessionKey;
        var rotation = request.Rotation ?? _sessionOptions.DefaultRotation;
        if (key is null && rotation != ProxyRotation.Fixed)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        var own = key is null ? null : _sessionStore.GetOrCreate(key, now);
        if (_sessionOptions.UseCookies)
        {
            cookies = own;
        }

        if (!_dispatcher.HasPool || request.Proxy?.IsDirect == true)
        {
            return null;
        }

        return rotation switch
        {
            ProxyRotation.Sticky => own,
            ProxyRotation.Fixed => _sessionStore.GetOrCreate(FixedSessionPrefix + host.ToString(), now),
            _ => null,
        };
    }

    private static CookieContainer CookiesOf(SessionState session)
    {
        if (session.Cookies is { } cookies)
        {
            return cookies;
        }

        Interlocked.CompareExchange(ref session.CookiesField, new CookieContainer(), null);
        return session.Cookies!;
    }

    private static void StoreCookies(CookieContainer cookies, Uri uri, HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            return;
        }

        foreach (var value in values)
        {
            try
            {
                cookies.SetCookies(uri, value);
            }
            catch (CookieException)
            {
                // A malformed cookie is ignored, as browsers do.
            }
        }
    }

    private AttemptVerdict Classify(RequestExecution execution, DispatchLease lease, HttpResponseMessage? response, ReadOnlyMemory<byte> body, Exception? exception)
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
            new KeyValuePair<string, object?>("class", ClassName(outcome)));
        return new AttemptVerdict(outcome, blame, outcome == ResponseClass.Success ? FailureKind.None : AttemptVerdict.KindOf(outcome, status, exception));
    }

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

    private IEnumerable<System.Diagnostics.Metrics.Measurement<int>> ProxiesByState() =>
        _dispatcher.GetProxySnapshots()
            .GroupBy(static p => p.State)
            .Select(static g => new System.Diagnostics.Metrics.Measurement<int>(g.Count(), new KeyValuePair<string, object?>("state", g.Key.ToString().ToLowerInvariant())));

    private int _processingBacklog;

    /// <summary>Counts responses waiting for a post-processing worker (over all runs), for the backlog gauge.</summary>
    internal void AddProcessingBacklog(int delta) => Interlocked.Add(ref _processingBacklog, delta);

    /// <summary>Records one post-processing chain's duration.</summary>
    internal void RecordProcessing(TimeSpan duration, string status) =>
        _metrics.ProcessingDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("status", status));

    private static string ClassName(ResponseClass outcome) => outcome switch
    {
        ResponseClass.Success => "success",
        ResponseClass.ProxyFailure => "proxy_failure",
        ResponseClass.Blocked => "blocked",
        ResponseClass.Throttled => "throttled",
        ResponseClass.TargetFailure => "target_failure",
        _ => "fatal",
    };
#pragma warning restore CA1031

    private Uri? GetRedirectTarget(RequestExecution execution, HttpResponseMessage response)
    {
        if (_maxRedirects == 0
            || response.StatusCode is not (HttpStatusCode.Moved or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect)
            || response.Headers.Location is not { } location)
        {
            return null;
        }

        Uri target;
        try
        {
            target = location.IsAbsoluteUri ? location : new Uri(execution.Uri, location);
        }
        catch (UriFormatException ex)
        {
            throw Fail(execution, RequestFailureReason.InvalidRedirect, response.StatusCode,
                $"The request to {UriRedactor.Redact(execution.Uri)} was redirected to an invalid location.", ex);
        }

        if (!UriRedactor.IsHttpScheme(target))
        {
            throw Fail(execution, RequestFailureReason.InvalidRedirect, response.StatusCode,
                $"The request to {UriRedactor.Redact(execution.Uri)} was redirected to a '{target.Scheme}' URI; only http and https are followed.", null);
        }

        return target;
    }

    private TimeSpan? GetRetryAfter(HttpResponseMessage response)
    {
        if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable) || response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        if (retryAfter.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (retryAfter.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
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

    private Exception? TranslateFailure(RequestExecution execution, Exception ex)
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

        if (_disposed || ex is ObjectDisposedException)
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

    private RequestFailedException Fail(RequestExecution execution, RequestFailureReason reason, HttpStatusCode? status, string message, Exception? inner)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Execution.Log.RequestFailed(_logger, UriRedactor.Redact(execution.Request.RequestUri), execution.Attempts, reason);
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

    private ResiliencePipeline<AttemptResult> BuildPipeline(RetryOptions retry, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = time };
        if (retry.MaxRetries + _maxProxyRetries > 0)
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
                        args.Context.Properties.TryGetValue(ExecutionKey, out var retried) && retried.LastClass is { } retriedClass ? ClassName(retriedClass) : "unknown"));
                    if (_logger.IsEnabled(LogLevel.Debug) && args.Context.Properties.TryGetValue(ExecutionKey, out var execution))
                    {
                        var cause = args.Outcome.Exception is { } e ? e.GetType().Name : ((int)args.Outcome.Result!.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        Execution.Log.RetryScheduled(_logger, UriRedactor.Redact(execution.Uri), args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1, cause);
                    }

                    return default;
                },
            });
        }

        return builder.Build();
    }

    private bool ShouldRetry(Outcome<AttemptResult> outcome, ResilienceContext context) =>
        context.Properties.TryGetValue(ExecutionKey, out var execution) && ShouldRetry(outcome, execution);

    private bool ShouldRetry(Outcome<AttemptResult> outcome, RequestExecution execution)
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

    /// <summary>
    /// Whether a proxy is left for the request's retry: an untried one (a quarantined one is waited for), or else the
    /// least recently failed one, when it still serves (a retry never waits on the reanimation of a proxy that failed it).
    /// </summary>
    private bool HasProxyFor(RequestExecution execution) =>
        _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded)
        || (execution.ReuseLeastRecentlyFailed() && _dispatcher.HasUntriedProxy(execution.Request.Proxy, execution.Excluded, healthyOnly: true));

    private static IProxySelector ResolveSelector(string name, IEnumerable<IProxySelector> registered)
    {
        IProxySelector[] builtIn = [new PowerOfTwoChoicesSelector(), new RoundRobinSelector(), new LeastInFlightSelector(), new RandomSelector()];
        var all = registered.Concat(builtIn).ToList();
        return all.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException(
                $"ProxyScheduler:ProxyPool:Selector names the proxy selector '{name}', which is not registered (available: {string.Join(", ", all.Select(static s => s.Name).Distinct(StringComparer.OrdinalIgnoreCase))}).");
    }

    internal static async IAsyncEnumerable<ScheduledRequest> ToAsync(IEnumerable<ScheduledRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var request in requests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return request;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
