namespace ProxyScheduler.Diagnostics.Internal;

/// <summary>Turns URIs into forms safe for logs, exception messages and <c>ToString()</c>.</summary>
internal static class UriRedactor
{
    /// <summary>Returns <c>scheme://host:port/path</c>: user information, query and fragment are dropped.</summary>
    public static string Redact(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return "(relative URI)";
        }

        var text = uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        return string.IsNullOrEmpty(uri.Query) ? text : text + "?…";
    }

    public static bool IsHttpScheme(Uri uri) =>
        string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase)
        || string.Equals(uri.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase);
}
