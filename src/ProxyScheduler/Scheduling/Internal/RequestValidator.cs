using System.Net.Http.Headers;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>Checks a request before it is queued, so bad input fails at once and never mid-flight.</summary>
internal static class RequestValidator
{
    private static readonly HashSet<string> ForbiddenHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Proxy-Authorization", "Proxy-Connection", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
    };

    public static void Validate(ScheduledRequest request, string paramName = "request")
    {
        if (request.ContentType is { } contentType && !MediaTypeHeaderValue.TryParse(contentType, out _))
        {
            throw new ArgumentException($"The request's ContentType '{contentType}' is not a valid media type.", paramName);
        }

        if (request.ContentType is not null && request.Content is null)
        {
            throw new ArgumentException("The request has a ContentType but no Content.", paramName);
        }

        if (request.HeadersOrNull is not { Count: > 0 } headers)
        {
            return;
        }

        foreach (var (name, value) in headers)
        {
            if (string.IsNullOrEmpty(name) || !IsToken(name))
            {
                throw new ArgumentException("The request has a header whose name is empty or not a valid HTTP token.", paramName);
            }

            if (ForbiddenHeaders.Contains(name))
            {
                throw new ArgumentException(
                    string.Equals(name, "Proxy-Authorization", StringComparison.OrdinalIgnoreCase)
                        ? "The request may not carry a Proxy-Authorization header: proxy credentials belong to the proxy configuration and are never sent to a target."
                        : $"The request may not set the '{name}' header; the transport manages it.",
                    paramName);
            }

            if (value is null || value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                throw new ArgumentException($"The value of the request header '{name}' is null or contains a line break or NUL.", paramName);
            }
        }
    }

    private static bool IsToken(string name)
    {
        foreach (var c in name)
        {
            var ok = c is > ' ' and < '\u007f' && "\"(),/:;<=>?@[\\]{}".IndexOf(c, StringComparison.Ordinal) < 0;
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
