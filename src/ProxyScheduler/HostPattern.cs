using System.Globalization;

namespace ProxyScheduler;

/// <summary>
/// A parsed host pattern: <c>example.com</c>, <c>*.example.com</c>, an IP address, each with an optional
/// <c>:port</c> (IPv6 in brackets). Host names are compared in their IDN (punycode) form, case-insensitively.
/// </summary>
internal sealed class HostPattern
{
    private static readonly IdnMapping Idn = new();
    private static readonly System.Buffers.SearchValues<char> UrlCharacters = System.Buffers.SearchValues.Create("/?#@ \t\\");

    private HostPattern(string text, string host, bool isWildcard, int? port)
    {
        Text = text;
        Host = host;
        IsWildcard = isWildcard;
        Port = port;
    }

    public string Text { get; }

    /// <summary>Gets the host, lowercase punycode; for a wildcard, the suffix after <c>*.</c>.</summary>
    public string Host { get; }

    public bool IsWildcard { get; }

    public int? Port { get; }

    public static HostPattern Parse(string text, string paramName)
    {
        if (!TryParse(text, out var pattern, out var error))
        {
            throw new ArgumentException($"'{text}' is not a valid host pattern: {error}", paramName);
        }

        return pattern;
    }

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out HostPattern? pattern, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        pattern = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "it is empty.";
            return false;
        }

        var s = text.Trim();
        if (s.Contains("://", StringComparison.Ordinal) || s.AsSpan().IndexOfAny(UrlCharacters) >= 0)
        {
            error = "give a host name, optionally with :port (for example 'example.com' or '*.example.com'), not a URL.";
            return false;
        }

        string hostPart = s;
        int? port = null;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = "an IPv6 address opened with '[' has no ']'.";
                return false;
            }

            hostPart = s[1..close];
            var rest = s[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':' || !TryParsePort(rest.AsSpan(1), out var p))
                {
                    error = "the port must be a number from 1 to 65535.";
                    return false;
                }

                port = p;
            }

            if (Uri.CheckHostName(hostPart) != UriHostNameType.IPv6)
            {
                error = "the text in brackets is not an IPv6 address.";
                return false;
            }

            pattern = new HostPattern(text, hostPart.ToLowerInvariant(), isWildcard: false, port);
            error = null;
            return true;
        }

        var colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            if (s.IndexOf(':', colon + 1) >= 0)
            {
                error = "an IPv6 address must be written in brackets, for example '[::1]:8080'.";
                return false;
            }

            if (!TryParsePort(s.AsSpan(colon + 1), out var p))
            {
                error = "the port must be a number from 1 to 65535.";
                return false;
            }

            port = p;
            hostPart = s[..colon];
        }

        var isWildcard = false;
        if (hostPart.StartsWith("*.", StringComparison.Ordinal))
        {
            isWildcard = true;
            hostPart = hostPart[2..];
        }

        if (hostPart.Contains('*', StringComparison.Ordinal))
        {
            error = "a wildcard is allowed only as a leading '*.' (for example '*.example.com'); use DefaultHost for every host.";
            return false;
        }

        string ascii;
        try
        {
            ascii = hostPart.Length == 0 ? string.Empty : Idn.GetAscii(hostPart.TrimEnd('.')).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            error = "the host name is not a valid DNS name.";
            return false;
        }

        var kind = Uri.CheckHostName(ascii);
        if (kind is not (UriHostNameType.Dns or UriHostNameType.IPv4) || (isWildcard && kind == UriHostNameType.IPv4))
        {
            error = isWildcard ? "a wildcard must be followed by a DNS name." : "the host name is not a valid DNS name or IPv4 address.";
            return false;
        }

        pattern = new HostPattern(text, ascii, isWildcard, port);
        error = null;
        return true;
    }

    public bool Matches(in HostKey key)
    {
        if (Port is { } p && p != key.Port)
        {
            return false;
        }

        if (!IsWildcard)
        {
            return string.Equals(key.Host, Host, StringComparison.OrdinalIgnoreCase);
        }

        // '*.example.com' matches 'a.example.com' and 'a.b.example.com', not 'example.com'.
        return key.Host.Length > Host.Length + 1
            && key.Host.EndsWith(Host, StringComparison.OrdinalIgnoreCase)
            && key.Host[key.Host.Length - Host.Length - 1] == '.';
    }

    /// <summary>Orders matches: an exact host beats a wildcard, a longer wildcard a shorter one, then a port beats none.</summary>
    public int CompareSpecificity(HostPattern other)
    {
        var c = (!IsWildcard).CompareTo(!other.IsWildcard);
        if (c != 0)
        {
            return c;
        }

        c = Host.Length.CompareTo(other.Host.Length);
        return c != 0 ? c : Port.HasValue.CompareTo(other.Port.HasValue);
    }

    /// <summary>Parses a port, 1-65535, digits only (shared by every host:port syntax of the library).</summary>
    internal static bool TryParsePort(ReadOnlySpan<char> text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
