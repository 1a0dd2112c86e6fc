using ProxyScheduler.Diagnostics.Internal;

namespace ProxyScheduler;

/// <summary>
/// A light description of one HTTP request for <see cref="IRequestScheduler"/>: where it goes, what it carries,
/// and how the scheduler should treat it (priority, deadline, attempt timeout).
/// </summary>
/// <remarks>
/// The request is validated when it is created: a relative URI or a scheme other than <c>http</c> or <c>https</c>
/// fails at once with an <see cref="ArgumentException"/>, before anything is queued. A request may be sent more
/// than once; it is never modified by the scheduler.
/// </remarks>
public sealed class ScheduledRequest
{
    private Dictionary<string, string>? _headers;
    private HostKey? _hostKey;
    private readonly TimeSpan? _deadline;
    private readonly TimeSpan? _attemptTimeout;
    private readonly HttpMethod _method = HttpMethod.Get;
    private readonly string? _sessionKey;

    /// <summary>Initializes a new instance of the <see cref="ScheduledRequest"/> class.</summary>
    /// <param name="requestUri">The absolute <c>http</c> or <c>https</c> URI to request.</param>
    /// <exception cref="ArgumentNullException"><paramref name="requestUri"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="requestUri"/> is relative or its scheme is not http or https.</exception>
    public ScheduledRequest(Uri requestUri)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        if (!requestUri.IsAbsoluteUri)
        {
            throw new ArgumentException("The request URI must be absolute (http:// or https://); a relative URI was given.", nameof(requestUri));
        }

        if (!UriRedactor.IsHttpScheme(requestUri))
        {
            throw new ArgumentException(
                $"The request URI must use the http or https scheme; '{requestUri.Scheme}' is not supported.", nameof(requestUri));
        }

        RequestUri = requestUri;
    }

    /// <summary>Initializes a new instance of the <see cref="ScheduledRequest"/> class.</summary>
    /// <param name="requestUri">The absolute <c>http</c> or <c>https</c> URI to request.</param>
    /// <exception cref="ArgumentNullException"><paramref name="requestUri"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="requestUri"/> is empty, not a URI, relative, or not http or https.</exception>
    public ScheduledRequest(string requestUri)
        : this(ParseUri(requestUri))
    {
    }

    /// <summary>Gets the absolute URI of the request.</summary>
    public Uri RequestUri { get; }

    /// <summary>Gets the HTTP method.</summary>
    /// <value>The default value is <see cref="HttpMethod.Get"/>.</value>
    public HttpMethod Method
    {
        get => _method;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value == HttpMethod.Connect)
            {
                throw new ArgumentException("CONNECT is not a request method the scheduler sends; it is used by proxies only.", nameof(value));
            }

            _method = value;
        }
    }

    /// <summary>
    /// Gets the request headers (names are case-insensitive). Content headers such as <c>Content-Type</c> are
    /// applied to the content. <c>Proxy-Authorization</c> is rejected: proxy credentials belong to the proxy.
    /// </summary>
    public IDictionary<string, string> Headers => _headers ??= new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the request body, buffered; <see langword="null"/> for none.</summary>
    public ReadOnlyMemory<byte>? Content { get; init; }

    /// <summary>Gets the media type of <see cref="Content"/>, for example <c>application/json</c>.</summary>
    public string? ContentType { get; init; }

    /// <summary>
    /// Gets the priority within the request's host: higher values are dispatched first; requests of equal
    /// priority are dispatched in the order they were submitted.
    /// </summary>
    /// <value>The default value is 0.</value>
    public int Priority { get; init; }

    /// <summary>
    /// Gets the longest the whole request may take, from submission to the end of its last attempt, with queueing,
    /// retries and redirects included. When it passes, the request fails with
    /// <see cref="RequestFailureReason.DeadlineExceeded"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="ProxySchedulerOptions.Deadline"/> applies.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan? Deadline
    {
        get => _deadline;
        init => _deadline = PositiveOrNull(value, nameof(Deadline));
    }

    /// <summary>Gets the timeout of each attempt, measured from its dispatch to the end of its buffered response.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="ProxySchedulerOptions.AttemptTimeout"/> applies.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan? AttemptTimeout
    {
        get => _attemptTimeout;
        init => _attemptTimeout = PositiveOrNull(value, nameof(AttemptTimeout));
    }

    /// <summary>
    /// Gets what the request needs of its proxy: <see cref="Proxies.ProxyRequirement.Direct"/> for none, tags such as
    /// <c>country=de</c>, or <see langword="null"/> to leave it to the pool (any proxy when proxies are configured, else
    /// direct). A request that needs a proxy never goes out directly.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Proxies.ProxyRequirement? Proxy { get; init; }

    /// <summary>
    /// Gets the session the request belongs to: with <see cref="Proxies.Sessions.ProxyRotation.Sticky"/> rotation (the
    /// default), all requests of one key use one proxy identity until the binding ends. The key is never logged.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no session.</value>
    /// <exception cref="ArgumentException">The key is empty, longer than 256 characters, or contains control characters.</exception>
    public string? SessionKey
    {
        get => _sessionKey;
        init => _sessionKey = CheckSessionKey(value, nameof(SessionKey));
    }

    /// <summary>Gets how the request's proxy identity rotates; <see langword="null"/> for <see cref="Proxies.Sessions.SessionOptions.DefaultRotation"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Proxies.Sessions.ProxyRotation? Rotation { get; init; }

    /// <summary>Gets caller state carried with the request and returned with its outcome; never read by the scheduler.</summary>
    public object? State { get; init; }

    /// <summary>Gets a value indicating whether robots.txt is not consulted for this request (it fetches a robots.txt itself).</summary>
    internal bool SkipRobots { get; init; }

    /// <summary>Gets the most redirects followed for this request, when not <see cref="ProxySchedulerOptions.MaxRedirects"/>.</summary>
    internal int? MaxRedirectsOverride { get; init; }

    /// <summary>Gets, when set, how much of the body is read: a longer body is cut there (not failed), and the connection dropped.</summary>
    internal int? BodyPrefixLimit { get; init; }

    /// <summary>Gets the host key of <see cref="RequestUri"/>, computed once (the request is immutable).</summary>
    internal HostKey HostKey => _hostKey ??= HostKey.From(RequestUri);

    internal Dictionary<string, string>? HeadersOrNull => _headers;

    /// <summary>Returns the method and the URI with any user information and query removed.</summary>
    /// <returns>A redacted description of the request.</returns>
    public override string ToString() => $"{Method} {UriRedactor.Redact(RequestUri)}";

    private static string? CheckSessionKey(string? key, string name)
    {
        if (key is null)
        {
            return null;
        }

        // The message never repeats the key: it is the caller's secret.
        if (key.Length == 0 || string.IsNullOrWhiteSpace(key))
        {
            throw new ArgumentException("SessionKey must not be empty or white space.", name);
        }

        if (key.Length > Proxies.Sessions.Internal.SessionDefaults.MaxKeyLength)
        {
            throw new ArgumentException($"SessionKey must be at most {Proxies.Sessions.Internal.SessionDefaults.MaxKeyLength} characters; it has {key.Length}.", name);
        }

        if (key.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || key.Contains('\u007f', StringComparison.Ordinal))
        {
            throw new ArgumentException("SessionKey must not contain control characters.", name);
        }

        return key;
    }

    private static TimeSpan? PositiveOrNull(TimeSpan? value, string name) =>
        value is { } v && v <= TimeSpan.Zero ? throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive.") : value;

    private static Uri ParseUri(string requestUri)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(requestUri);
        if (!Uri.TryCreate(requestUri, UriKind.RelativeOrAbsolute, out var uri))
        {
            throw new ArgumentException("The request URI is not a valid URI.", nameof(requestUri));
        }

        return uri;
    }
}
