using ProxyScheduler.Diagnostics.Internal;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// Applies robots.txt before a request is admitted: fetches each host's file once through the scheduler itself (its
/// limits, its proxies) by the send delegate it is given, refuses a disallowed path with a failure that says why, and
/// hands the host's <c>Crawl-delay</c> to the dispatcher by the delegate it is given.
/// </summary>
internal sealed class RobotsPolicy
{
    private readonly RobotsCache _cache;
    private readonly Func<ScheduledRequest, Task<ScheduledResponse>> _send;
    private readonly Action<HostKey, TimeSpan> _setCrawlDelay;
    private readonly TimeSpan _fetchDeadline;

    /// <param name="options">The robots.txt options.</param>
    /// <param name="time">The clock of the cache.</param>
    /// <param name="attemptTimeout">The scheduler's attempt timeout, which bounds a whole fetch (30 s when infinite).</param>
    /// <param name="send">Sends a robots.txt request through the scheduler, outside admission.</param>
    /// <param name="setCrawlDelay">Sets a host's crawl delay.</param>
    public RobotsPolicy(RobotsOptions options, TimeProvider time, TimeSpan attemptTimeout, Func<ScheduledRequest, Task<ScheduledResponse>> send, Action<HostKey, TimeSpan> setCrawlDelay)
    {
        _send = send;
        _setCrawlDelay = setCrawlDelay;
        _fetchDeadline = attemptTimeout > TimeSpan.Zero && attemptTimeout != Timeout.InfiniteTimeSpan ? attemptTimeout : TimeSpan.FromSeconds(30);
        _cache = new RobotsCache(options, time, FetchAsync);
    }

    /// <summary>The robots.txt rules for <paramref name="request"/>'s host, unless the request is itself a robots.txt fetch.</summary>
    public Task<RobotsRules>? RulesFor(ScheduledRequest request) => request.SkipRobots ? null : _cache.GetAsync(request.RequestUri);

    /// <summary>Applies the host's robots.txt to a request: the failure when it is disallowed; otherwise the host's crawl delay is set and <see langword="null"/> returned.</summary>
    public RequestFailedException? Check(ScheduledRequest request, RobotsRules rules)
    {
        var options = _cache.Options;
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
            _setCrawlDelay(request.HostKey, delay < options.MaxCrawlDelay ? delay : options.MaxCrawlDelay);
        }

        return null;
    }

    /// <summary>
    /// Fetches a host's robots.txt as RFC 9309 says: 2xx is parsed (the first 500 KiB), 4xx allows everything, 429, 5xx
    /// and every failure to get an answer (refused, reset, timed out, no proxy, more than five redirects excepted)
    /// disallow everything until the next try. The whole fetch, retries and redirects included, is bounded.
    /// </summary>
    private async Task<RobotsRules> FetchAsync(Uri robots)
    {
        var request = new ScheduledRequest(robots)
        {
            SkipRobots = true,
            MaxRedirectsOverride = RobotsRules.MaxRedirects,
            BodyPrefixLimit = RobotsRules.MaxSize,
            Deadline = _fetchDeadline,
        };
        request.Headers["User-Agent"] = _cache.Options.UserAgent;
        ScheduledResponse response;
        try
        {
            response = await _send(request).ConfigureAwait(false);
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
            return RobotsRules.Parse(text, _cache.Options.UserAgent);
        }

        return status is >= 400 and < 500 and not 429 ? RobotsRules.AllowAll : RobotsRules.DisallowAll($"status {status}");
    }
}
