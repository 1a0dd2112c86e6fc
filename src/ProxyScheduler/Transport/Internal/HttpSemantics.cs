using System.Net;
using ProxyScheduler.Diagnostics.Internal;

namespace ProxyScheduler.Transport.Internal;

/// <summary>
/// The HTTP rules the scheduler applies itself instead of leaving them to the handler: which redirects it follows and
/// where to, what a <c>Retry-After</c> asks for, and a session's cookies. Stateless; hostile header values end in a
/// refusal or are ignored, never in an exception that escapes the attempt unexplained.
/// </summary>
internal static class HttpSemantics
{
    /// <summary>
    /// The target of a redirect the scheduler follows (301, 302, 303, 307, 308 with a <c>Location</c>), resolved against
    /// <paramref name="current"/>; <see langword="null"/> when the response is not one. A location that is not a valid
    /// URI, or not http or https, sets <paramref name="invalid"/> (a message naming the redacted URI) and
    /// <paramref name="cause"/>.
    /// </summary>
    public static Uri? RedirectTarget(Uri current, HttpResponseMessage response, out string? invalid, out Exception? cause)
    {
        invalid = null;
        cause = null;
        if (response.StatusCode is not (HttpStatusCode.Moved or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect)
            || response.Headers.Location is not { } location)
        {
            return null;
        }

        Uri target;
        try
        {
            target = location.IsAbsoluteUri ? location : new Uri(current, location);
        }
        catch (UriFormatException ex)
        {
            invalid = $"The request to {UriRedactor.Redact(current)} was redirected to an invalid location.";
            cause = ex;
            return null;
        }

        if (!UriRedactor.IsHttpScheme(target))
        {
            invalid = $"The request to {UriRedactor.Redact(current)} was redirected to a '{target.Scheme}' URI; only http and https are followed.";
            return null;
        }

        return target;
    }

    /// <summary>
    /// How long a 429 or 503 asks to wait (its <c>Retry-After</c>, as a delay or a date relative to <paramref name="utcNow"/>,
    /// never negative); <see langword="null"/> for any other response or without the header.
    /// </summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset utcNow)
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
            var wait = date - utcNow;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    /// <summary>Stores the response's <c>Set-Cookie</c> values for <paramref name="uri"/>; a malformed cookie is ignored, as browsers do.</summary>
    public static void StoreCookies(CookieContainer cookies, Uri uri, HttpResponseMessage response)
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
}
