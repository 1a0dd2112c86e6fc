using System.Net;
using System.Text;

namespace ProxyScheduler.Classification;

/// <summary>
/// The default classifier. Through a proxy: connection errors, tunnel failures, attempt timeouts and broken responses,
/// and the proxy's own 407 (or a 401 carrying <c>Proxy-Authenticate</c>) and 502 are <see cref="ResponseClass.ProxyFailure"/>.
/// The block status codes (403 by default) and the block markers found in the body are <see cref="ResponseClass.Blocked"/>;
/// 429 and 503 are <see cref="ResponseClass.Throttled"/>; 408 and other 5xx (but 501 and 505) are
/// <see cref="ResponseClass.TargetFailure"/>; anything else the target answered is <see cref="ResponseClass.Success"/>.
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
                HttpRequestException { HttpRequestError: HttpRequestError.ProxyTunnelError } => proxied ? ResponseClass.ProxyFailure : ResponseClass.TargetFailure,
                HttpRequestException or IOException or TimeoutException => proxied ? ResponseClass.ProxyFailure : ResponseClass.TargetFailure,
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
