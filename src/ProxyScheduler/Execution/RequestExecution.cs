using System.Net;
using ProxyScheduler.Dispatch;

namespace ProxyScheduler.Execution;

/// <summary>
/// The state of one request across its attempts, retries and redirects: where it goes now, what it has cost, and the
/// token that ends it (caller cancellation, overall deadline, or scheduler disposal).
/// </summary>
internal sealed class RequestExecution : IDisposable
{
    private readonly CancellationTokenSource? _cts;
    private readonly CancellationToken _token;
    private readonly ITimer? _deadlineTimer;
    private volatile bool _deadlineExceeded;

    public RequestExecution(
        ScheduledRequest request,
        TimeSpan attemptTimeout,
        TimeSpan? deadline,
        TimeProvider time,
        CancellationToken callerToken,
        CancellationToken disposeToken,
        CancellationToken combinedToken)
    {
        Request = request;
        Uri = request.RequestUri;
        Method = request.Method;
        Content = request.Content;
        HostKey = request.HostKey;
        AttemptTimeout = attemptTimeout;
        CallerToken = callerToken;
        SubmittedAt = time.GetTimestamp();
        LastAttemptEnd = SubmittedAt;
        if (deadline is null && (combinedToken.CanBeCanceled || !callerToken.CanBeCanceled))
        {
            // No deadline, and a token that already ends the request on cancellation and disposal: no allocation.
            _token = combinedToken.CanBeCanceled ? combinedToken : disposeToken;
            return;
        }

        _cts = combinedToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(combinedToken)
            : callerToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(callerToken, disposeToken) : CancellationTokenSource.CreateLinkedTokenSource(disposeToken);
        _token = _cts.Token;
        if (deadline is { } d)
        {
            _deadlineTimer = time.CreateTimer(static state => ((RequestExecution)state!).OnDeadline(), this, d, Timeout.InfiniteTimeSpan);
        }
    }

    public ScheduledRequest Request { get; }

    /// <summary>Gets or sets the pool the response body is rented from (a post-processing run's), or <see langword="null"/> for an exact array.</summary>
    public System.Buffers.ArrayPool<byte>? BodyPool { get; set; }

    public Uri Uri { get; private set; }

    public HttpMethod Method { get; private set; }

    public ReadOnlyMemory<byte>? Content { get; private set; }

    public HostKey HostKey { get; private set; }

    public TimeSpan AttemptTimeout { get; }

    public CancellationToken CallerToken { get; }

    /// <summary>Gets the token that ends the request: caller, deadline, or disposal.</summary>
    public CancellationToken Token => _token;

    public bool DeadlineExceeded => _deadlineExceeded;

    /// <summary>Gets or sets when the request was submitted (for a batch item, when it was queued).</summary>
    public long SubmittedAt { get; set; }

    public long LastAttemptEnd { get; set; }

    private AttemptPermit? _firstLease;
    private Polly.Outcome<AttemptResult>? _firstOutcome;

    /// <summary>Sets the outcome of an attempt made before the retry pipeline ran; the pipeline takes it as its first.</summary>
    public void SetFirstOutcome(Polly.Outcome<AttemptResult> outcome) => _firstOutcome = outcome;

    public Polly.Outcome<AttemptResult>? TakeFirstOutcome()
    {
        var outcome = _firstOutcome;
        _firstOutcome = null;
        return outcome;
    }
    private long _firstQueuedAt;

    /// <summary>Hands over a lease granted before the execution started (the first attempt was queued lightly).</summary>
    public void SetFirstLease(AttemptPermit lease, long queuedAt)
    {
        _firstLease = lease;
        _firstQueuedAt = queuedAt;
    }

    public bool TryTakeFirstLease(out AttemptPermit lease, out long queuedAt)
    {
        if (_firstLease is { } l)
        {
            _firstLease = null;
            lease = l;
            queuedAt = _firstQueuedAt;
            return true;
        }

        lease = default;
        queuedAt = 0;
        return false;
    }

    public int Attempts { get; set; }

    /// <summary>Gets what the last attempt was classified as; <see langword="null"/> when it was canceled or never ran.</summary>
    public Classification.ResponseClass? LastClass { get; private set; }

    /// <summary>Gets the attempts that failed at the proxy or were blocked (the proxy retry budget).</summary>
    public int ProxyFailures { get; private set; }

    /// <summary>Gets the attempts that failed at the target or were throttled (the target retry budget).</summary>
    public int TargetFailures { get; private set; }

    /// <summary>Gets the proxy of the last attempt.</summary>
    public Proxies.Internal.ProxyNode? LastProxy { get; private set; }

    /// <summary>
    /// Gets the proxies that failed or were blocked for this request, oldest first: its retries prefer others, and when
    /// every proxy has failed it once, the least recently failed one is tried again (see <see cref="ReuseLeastRecentlyFailed"/>).
    /// </summary>
    public List<Proxies.Internal.ProxyNode>? Excluded { get; private set; }

    /// <summary>Gets what the last attempt was judged: class, blame, kind.</summary>
    public Classification.Internal.AttemptVerdict LastVerdict { get; private set; }

    /// <summary>Gets a value indicating whether the next retry goes through a proxy that failed this request before (so it waits out the backoff first).</summary>
    public bool ReusesFailedProxy { get; private set; }

    /// <summary>Lets the least recently failed proxy serve the request again: every proxy able to serve it has failed it once. Returns <see langword="false"/> when there is none.</summary>
    public bool ReuseLeastRecentlyFailed()
    {
        if (Excluded is not { Count: > 0 } excluded)
        {
            return false;
        }

        excluded.RemoveAt(0);
        ReusesFailedProxy = true;
        return true;
    }

    /// <summary>Gets the ids of the proxies tried, in order.</summary>
    public IReadOnlyList<string> ProxiesTried => (IReadOnlyList<string>?)_tried ?? [];

    private List<string>? _tried;

    /// <summary>Records one finished attempt: its proxy, its class, and the budget it spends.</summary>
    public void Record(Proxies.Internal.ProxyNode? proxy, Classification.ResponseClass? outcome, Classification.Internal.AttemptVerdict verdict = default)
    {
        LastClass = outcome;
        LastProxy = proxy;
        LastVerdict = verdict;
        ReusesFailedProxy = false;
        if (proxy is not null)
        {
            (_tried ??= []).Add(proxy.Endpoint.Id);
        }

        switch (outcome)
        {
            case Classification.ResponseClass.ProxyFailure:
            case Classification.ResponseClass.Blocked:
                ProxyFailures++;
                if (proxy is not null)
                {
                    (Excluded ??= []).Add(proxy);
                }

                break;
            case Classification.ResponseClass.Throttled:
                TargetFailures++;
                break;
            case Classification.ResponseClass.TargetFailure:
                TargetFailures++;
                if (proxy is not null && (Excluded is null || !Excluded.Contains(proxy)))
                {
                    // The retry prefers another proxy: if the host is fine, this one may be the trouble.
                    (Excluded ??= []).Add(proxy);
                }

                break;
        }
    }

    /// <summary>Moves the last target failure to the proxy budget: other proxies reached the host, so it was the pair's.</summary>
    public void ChargeLastFailureToProxy()
    {
        if (LastClass == Classification.ResponseClass.TargetFailure && TargetFailures > 0)
        {
            TargetFailures--;
            ProxyFailures++;
        }
    }

    public int Redirects { get; private set; }

    public long QueuedTicks { get; set; }

    public long LastAttemptTicks { get; set; }

    /// <summary>Gets a value indicating whether a redirect crossed origins, so credentials headers are no longer sent.</summary>
    public bool DropCredentials { get; private set; }

    public bool IsIdempotent =>
        Method == HttpMethod.Get || Method == HttpMethod.Head || Method == HttpMethod.Options
        || Method == HttpMethod.Trace || Method == HttpMethod.Put || Method == HttpMethod.Delete;

    /// <summary>Gets the rebind count of the request's session when the request started, or -1 before it is known.</summary>
    public int SessionRebindsAtStart { get; private set; } = -1;

    /// <summary>Gets the session whose binding the last attempt used.</summary>
    public Proxies.Sessions.SessionState? Session { get; private set; }

    /// <summary>Gets a value indicating whether the session moved to another identity while the request ran.</summary>
    public bool SessionRebound => Session is { } session && SessionRebindsAtStart >= 0 && session.Rebinds != SessionRebindsAtStart;

    /// <summary>Notes the session of an attempt; the first one sets the rebind count to compare with.</summary>
    public void NoteSession(Proxies.Sessions.SessionState? session, int rebindsAtStart)
    {
        Session = session;
        if (session is not null && SessionRebindsAtStart < 0)
        {
            SessionRebindsAtStart = rebindsAtStart;
        }
    }

    public HttpRequestMessage CreateMessage(System.Net.CookieContainer? cookies = null)
    {
        var message = new HttpRequestMessage(Method, Uri);
        if (cookies is not null && cookies.GetCookieHeader(Uri) is { Length: > 0 } cookieHeader
            && !(Request.HeadersOrNull?.ContainsKey("Cookie") == true && !DropCredentials))
        {
            // The session's cookies, unless the caller set a Cookie header of its own.
            message.Headers.TryAddWithoutValidation("Cookie", cookieHeader);
        }
        if (Content is { } content)
        {
            message.Content = new ReadOnlyMemoryContent(content);
            if (Request.ContentType is { } contentType)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        if (Request.HeadersOrNull is { Count: > 0 } headers)
        {
            foreach (var (name, value) in headers)
            {
                if (DropCredentials && (string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }

                if (!message.Headers.TryAddWithoutValidation(name, value))
                {
                    message.Content?.Headers.TryAddWithoutValidation(name, value);
                }
            }
        }

        return message;
    }

    /// <summary>Moves the request to the redirect target, with the method change browsers make.</summary>
    public void FollowRedirect(Uri target, HttpStatusCode status)
    {
        Redirects++;
        if ((status == HttpStatusCode.SeeOther && Method != HttpMethod.Head)
            || (status is HttpStatusCode.Moved or HttpStatusCode.Found && Method == HttpMethod.Post))
        {
            Method = HttpMethod.Get;
            Content = null;
        }

        if (Uri.Compare(Uri, target, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            DropCredentials = true;
        }

        Uri = target;
        HostKey = HostKey.From(target);
    }

    public void Dispose()
    {
        _deadlineTimer?.Dispose();
        _cts?.Dispose();
    }

    private void OnDeadline()
    {
        _deadlineExceeded = true;
        try
        {
            _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The request completed while the deadline fired.
        }
    }
}
