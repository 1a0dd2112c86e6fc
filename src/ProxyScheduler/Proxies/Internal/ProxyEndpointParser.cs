using System.Diagnostics.CodeAnalysis;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>Parses the proxy formats in common use and redacts credentials from a line for error messages.</summary>
internal static class ProxyEndpointParser
{
    private const int MaxEchoLength = 120;

    public static bool TryParse(string? text, [NotNullWhen(true)] out ProxyEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        var s = text?.Trim();
        if (string.IsNullOrEmpty(s))
        {
            error = "it is empty.";
            return false;
        }

        var control = IndexOfControl(s);
        if (control >= 0)
        {
            // A CR or LF inside a credential would end up inside a Proxy-Authorization header line.
            error = $"it contains a control character ({Describe(s[control])}) at column {control + 1}.";
            return false;
        }

        if (s.AsSpan().IndexOfAny(" \t") >= 0)
        {
            error = "it contains whitespace.";
            return false;
        }

        var schemeEnd = s.IndexOf("://", StringComparison.Ordinal);
        var scheme = ProxyScheme.Http;
        var explicitScheme = false;
        if (schemeEnd >= 0)
        {
            if (!TryParseScheme(s[..schemeEnd], out scheme))
            {
                error = $"unknown scheme '{s[..schemeEnd]}' (use http, https, socks4, socks4a or socks5).";
                return false;
            }

            explicitScheme = true;
            s = s[(schemeEnd + 3)..].TrimEnd('/');
            if (s.AsSpan().IndexOfAny("/?#") >= 0 && s.LastIndexOf('@') < s.AsSpan().IndexOfAny("/?#"))
            {
                error = "a proxy address has no path, query or fragment.";
                return false;
            }
        }

        string? user = null;
        string? password = null;
        string hostPort;
        var at = s.LastIndexOf('@');
        if (at >= 0)
        {
            // user:pass@host:port (the user info may itself contain '@' in the password: split at the last one).
            var userInfo = s[..at];
            hostPort = s[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = colon >= 0 ? userInfo[..colon] : userInfo;
            password = colon >= 0 ? userInfo[(colon + 1)..] : null;
            if (explicitScheme)
            {
                user = Uri.UnescapeDataString(user);
                password = password is null ? null : Uri.UnescapeDataString(password);
            }

            if (user.Length == 0)
            {
                error = "the user name before '@' is empty.";
                return false;
            }

            if (CheckCredentials(user, password) is { } problem)
            {
                error = problem;
                return false;
            }
        }
        else
        {
            hostPort = s;
        }

        if (!TrySplitHostPort(hostPort, out var host, out var port, out var rest, out error))
        {
            return false;
        }

        if (rest is not null)
        {
            // host:port:user:pass (the password may contain ':').
            if (at >= 0 || explicitScheme)
            {
                error = "after host:port only ':user:password' is allowed, in the list format without '@' or a scheme.";
                return false;
            }

            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                error = "expected host:port:user:password.";
                return false;
            }

            user = rest[..colon];
            password = rest[(colon + 1)..];
        }

        if (port is null)
        {
            if (!explicitScheme)
            {
                error = "the port is missing (host:port).";
                return false;
            }

            port = scheme switch
            {
                ProxyScheme.Http => 80,
                ProxyScheme.Https => 443,
                _ => 1080,
            };
        }

        if (scheme is ProxyScheme.Socks4 or ProxyScheme.Socks4a && password is not null)
        {
            error = "SOCKS4 proxies take a user id but no password.";
            return false;
        }

        try
        {
            endpoint = new ProxyEndpoint(scheme, host, port.Value, user, password);
        }
        catch (ArgumentException ex)
        {
            error = ex.Message.Split(" (Parameter", StringSplitOptions.None)[0];
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// Why a user name and password cannot be sent, or <see langword="null"/>: a <c>:</c> in the user name would move
    /// into the password of the <c>Basic</c> credentials, and a control character (CR, LF, ...) could end the header line.
    /// </summary>
    public static string? CheckCredentials(string? user, string? password)
    {
        if (user is not null && user.Contains(':', StringComparison.Ordinal))
        {
            return "the user name contains ':' (Basic credentials cannot carry it; percent-encode a ':' that belongs to the password).";
        }

        if (user is not null && IndexOfControl(user) is var u and >= 0)
        {
            return $"the user name contains a control character ({Describe(user[u])}).";
        }

        if (password is not null && IndexOfControl(password) is var p and >= 0)
        {
            return $"the password contains a control character ({Describe(password[p])}).";
        }

        return null;
    }

    /// <summary>Returns the text with anything that may be a credential replaced by <c>***</c>, shortened for messages.</summary>
    public static string Redact(string text)
    {
        var s = EscapeControls(text.Trim());
        var schemeEnd = s.IndexOf("://", StringComparison.Ordinal);
        var start = schemeEnd >= 0 ? schemeEnd + 3 : 0;
        var at = s.LastIndexOf('@');
        if (at >= start)
        {
            s = string.Concat(s.AsSpan(0, start), "***", s.AsSpan(at));
        }
        else if (!s.StartsWith('[') && schemeEnd < 0)
        {
            var parts = s.Split(':');
            if (parts.Length > 2)
            {
                s = $"{parts[0]}:{parts[1]}:***";
            }
        }
        else if (s.StartsWith('['))
        {
            var close = s.IndexOf(']', StringComparison.Ordinal);
            var afterPort = close >= 0 ? s.IndexOf(':', Math.Min(s.Length, close + 2)) : -1;
            if (afterPort > 0)
            {
                s = s[..afterPort] + ":***";
            }
        }

        return s.Length > MaxEchoLength ? s[..MaxEchoLength] + "…" : s;
    }

    private static int IndexOfControl(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsControl(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Describe(char c) => c switch
    {
        '\r' => "CR",
        '\n' => "LF",
        '\t' => "TAB",
        '\0' => "NUL",
        _ => $"U+{(int)c:X4}",
    };

    // A message never carries a raw control character (it could forge a log line): each is shown as \uXXXX.
    private static string EscapeControls(string text) =>
        IndexOfControl(text) < 0 ? text : string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static bool TryParseScheme(string text, out ProxyScheme scheme)
    {
        switch (text.ToLowerInvariant())
        {
            case "http":
                scheme = ProxyScheme.Http;
                return true;
            case "https":
                scheme = ProxyScheme.Https;
                return true;
            case "socks4":
                scheme = ProxyScheme.Socks4;
                return true;
            case "socks4a":
                scheme = ProxyScheme.Socks4a;
                return true;
            case "socks5":
            case "socks5h":
            case "socks":
                scheme = ProxyScheme.Socks5;
                return true;
            default:
                scheme = default;
                return false;
        }
    }

    /// <summary>Splits <c>host[:port][:rest]</c>, with IPv6 hosts in brackets.</summary>
    private static bool TrySplitHostPort(string text, out string host, out int? port, out string? rest, [NotNullWhen(false)] out string? error)
    {
        host = string.Empty;
        port = null;
        rest = null;
        string afterHost;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = "an IPv6 address opened with '[' has no ']'.";
                return false;
            }

            host = text[1..close];
            afterHost = text[(close + 1)..];
            if (afterHost.Length > 0 && afterHost[0] != ':')
            {
                error = "expected ':' after the IPv6 address.";
                return false;
            }

            afterHost = afterHost.Length > 0 ? afterHost[1..] : string.Empty;
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = colon >= 0 ? text[..colon] : text;
            afterHost = colon >= 0 ? text[(colon + 1)..] : string.Empty;
            if (colon >= 0 && afterHost.Length == 0)
            {
                error = "the port after ':' is empty.";
                return false;
            }
        }

        if (host.Length == 0)
        {
            error = "the host is empty.";
            return false;
        }

        if (afterHost.Length > 0 || text.EndsWith(':'))
        {
            var colon = afterHost.IndexOf(':', StringComparison.Ordinal);
            var portText = colon >= 0 ? afterHost[..colon] : afterHost;
            if (!HostPattern.TryParsePort(portText, out var p))
            {
                error = "the port must be a number from 1 to 65535.";
                return false;
            }

            port = p;
            rest = colon >= 0 ? afterHost[(colon + 1)..] : null;
        }

        error = null;
        return true;
    }
}
