namespace ProxyScheduler;

/// <summary>A target host as the scheduler limits it: the IDN (punycode) host name and the port.</summary>
internal readonly record struct HostKey(string Host, int Port)
{
    public static HostKey From(Uri uri) => new(uri.IdnHost, uri.Port);

    /// <summary>Parses the form <see cref="ToString"/> writes (<c>host:port</c>, <c>[v6]:port</c>).</summary>
    public static bool TryParse(string text, out HostKey key)
    {
        key = default;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        key = new HostKey(host, port);
        return host.Length > 0;
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
