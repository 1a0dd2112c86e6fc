using System.Net;
using System.Text;

namespace ProxyScheduler.Classification;

/// <summary>
/// The default classifier. Through a proxy: a failure to reach the proxy (connection refused, reset or timed out while
/// connecting to it), a rejected tunnel, the proxy's own 407 (or a 401 carrying <c>Proxy-Authenticate</c>) and 502 are
/// <see cref="ResponseClass.ProxyFailure"/>; a timeout, reset or broken response after the proxy took the request is a
/// <see cref="ResponseClass.TargetFailure"/>, which <see cref="DefaultBlame"/> charges to the host until other proxies'
/// evidence says otherwise. The block status codes (403 by default) and the block markers found in the body are
/// <see cref="ResponseClass.Blocked"/>; 429 and 503 are <see cref="ResponseClass.Throttled"/>; 408 and other 5xx (but 501
/// and 505) are <see cref="ResponseClass.TargetFailure"/>; anything else the target answered is <see cref="ResponseClass.Success"/>.
/// Without a proxy, failures to connect are target failures and blocks are final answers.
/// </summary>
public sealed class DefaultResponseClassifier : IResponseClassifier
{
    /// <summary>The name of the default classifier, <c>Default</c>.</summary>
    public const string DefaultName = "Default";

    private readonly HashSet<int> _blockStatusCodes;
    private readonly byte[][] _markers;
    private readonly int _scanBytes;

    /// <summary>Initializes a new instance of the <see cref="DefaultResponseClassifier"/> class with the default options.</summary>
    public DefaultResponseClassifier()
        : this(new ClassificationOptions())
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DefaultResponseClassifier"/> class.</summary>
    /// <param name="options">The block status codes, markers and scan length.</param>
    public DefaultResponseClassifier(ClassificationOptions options)
        : this(options?.BlockStatusCodes ?? throw new ArgumentNullException(nameof(options)), options.BlockMarkers, options.MarkerScanBytes)
    {
    }

    internal DefaultResponseClassifier(IEnumerable<int> blockStatusCodes, IEnumerable<string> blockMarkers, int markerScanBytes)
    {
        _blockStatusCodes = [.. blockStatusCodes];
        _markers = [.. blockMarkers.Where(static m => !string.IsNullOrEmpty(m)).Select(static m => Encoding.UTF8.GetBytes(m.ToLowerInvariant()))];
        _scanBytes = markerScanBytes;
    }

    /// <inheritdoc />
    public string Name => DefaultName;

    /// <inheritdoc />
    public ResponseClass Classify(in ResponseClassificationContext context)
    {
        var proxied = context.Proxy is not null;
        if (context.StatusCode is not { } status)
        {
            return context.Exception switch
            {
                HttpRequestException { HttpRequestError: HttpRequestError.ProxyTunnelError or HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
                    => proxied ? ResponseClass.ProxyFailure : ResponseClass.TargetFailure,
                HttpRequestException or IOException or TimeoutException => ResponseClass.TargetFailure,
                _ => ResponseClass.Fatal,
            };
        }

        var code = (int)status;
        if (proxied && (status == HttpStatusCode.ProxyAuthenticationRequired || status == HttpStatusCode.BadGateway
            || (status == HttpStatusCode.Unauthorized && context.Headers?.ProxyAuthenticate.Count > 0)))
        {
            return ResponseClass.ProxyFailure;
        }

        if (_blockStatusCodes.Contains(code))
        {
            return ResponseClass.Blocked;
        }

        if (status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
        {
            return ResponseClass.Throttled;
        }

        if (status == HttpStatusCode.RequestTimeout || (code >= 500 && code != 501 && code != 505))
        {
            return ResponseClass.TargetFailure;
        }

        return _markers.Length > 0 && ContainsMarker(context.Body.Span) ? ResponseClass.Blocked : ResponseClass.Success;
    }

    /// <summary>
    /// The default answer to <see cref="IResponseClassifier.Blame"/>. Through a proxy: a <see cref="ResponseClass.ProxyFailure"/>
    /// blames the proxy, except a 502 or 504 it answered and a tunnel it refused with a 5xx status or a SOCKS reply (it
    /// could not reach the host: <see cref="AttemptBlame.ProxyAndHost"/>); a block blames the pair; target failures
    /// (timeouts, resets, 5xx) and throttling blame the host. Without a proxy, every failure blames the host.
    /// </summary>
    /// <param name="context">The attempt's response or exception.</param>
    /// <param name="responseClass">The class the classifier gave it.</param>
    /// <returns>Whom the attempt blames.</returns>
    public static AttemptBlame DefaultBlame(in ResponseClassificationContext context, ResponseClass responseClass)
    {
        if (responseClass is ResponseClass.Success or ResponseClass.Fatal)
        {
            return AttemptBlame.None;
        }

        if (context.Proxy is null)
        {
            return AttemptBlame.Host;
        }

        switch (responseClass)
        {
            case ResponseClass.ProxyFailure:
                if (context.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout)
                {
                    return AttemptBlame.ProxyAndHost;
                }

                return context.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ProxyTunnelError } tunnel && TunnelFailedBeyondProxy(tunnel)
                    ? AttemptBlame.ProxyAndHost
                    : AttemptBlame.Proxy;
            case ResponseClass.Blocked:
                return AttemptBlame.ProxyAndHost;
            default:
                return AttemptBlame.Host;
        }
    }

    /// <summary>
    /// Whether a rejected tunnel says the proxy could not reach the host (a 5xx answer to CONNECT, or a SOCKS reply),
    /// rather than that the proxy refused us (407, 403, or no answer at all).
    /// </summary>
    private static bool TunnelFailedBeyondProxy(HttpRequestException exception)
    {
        if (exception.StatusCode is { } status)
        {
            return (int)status >= 500;
        }

        for (Exception? inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner.GetType().Name == "SocksException")
            {
                // The SOCKS server answered: it could not connect to the destination (its refusal of our credentials
                // reaches us the same way, and the proxy's own health still learns from it through the pair's spread).
                return true;
            }

            if (inner is System.Net.Sockets.SocketException)
            {
                return false;
            }
        }

        // SocketsHttpHandler reports the status of a refused CONNECT in its message only: "... failed with status code '502'."
        var message = exception.Message.AsSpan();
        var quote = message.LastIndexOf("code '", StringComparison.Ordinal);
        return quote >= 0 && message.Length >= quote + 9 && message[quote + 6] == '5' && char.IsAsciiDigit(message[quote + 7]) && char.IsAsciiDigit(message[quote + 8]);
    }

    private bool ContainsMarker(ReadOnlySpan<byte> body)
    {
        if (body.Length > _scanBytes)
        {
            body = body[.._scanBytes];
        }

        foreach (var marker in _markers)
        {
            if (IndexOfIgnoreAsciiCase(body, marker) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private static int IndexOfIgnoreAsciiCase(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle)
    {
        var first = needle[0];
        var upper = first is >= (byte)'a' and <= (byte)'z' ? (byte)(first - 32) : first;
        var offset = 0;
        while (offset <= haystack.Length - needle.Length)
        {
            var i = haystack[offset..].IndexOfAny(first, upper);
            if (i < 0 || offset + i > haystack.Length - needle.Length)
            {
                return -1;
            }

            var start = offset + i;
            if (Ascii.EqualsIgnoreCase(haystack.Slice(start, needle.Length), needle))
            {
                return start;
            }

            offset = start + 1;
        }

        return -1;
    }
}
