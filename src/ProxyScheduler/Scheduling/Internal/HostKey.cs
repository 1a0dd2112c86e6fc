namespace ProxyScheduler.Scheduling.Internal;

/// <summary>A target host as the scheduler limits it: the IDN (punycode) host name and the port.</summary>
internal readonly record struct HostKey(string Host, int Port)
{
    public static HostKey From(Uri uri) => new(uri.IdnHost, uri.Port);

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
