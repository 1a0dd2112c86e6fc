using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Proxies;

/// <summary>
/// One proxy: scheme, host, port, optional credentials, tags (country, ASN, provider, any key/value) and per-proxy
/// limits. Its identity is the endpoint plus the credentials. <see cref="Id"/> and <see cref="ToString"/> never reveal
/// the credentials.
/// </summary>
public sealed class ProxyEndpoint : IEquatable<ProxyEndpoint>
{
    private readonly string? _password;
    private readonly IReadOnlyDictionary<string, string> _tags = EmptyTags;

    /// <summary>Initializes a new instance of the <see cref="ProxyEndpoint"/> class.</summary>
    /// <param name="scheme">The protocol spoken to the proxy.</param>
    /// <param name="host">The proxy's host name or IP address (IPv6 without brackets).</param>
    /// <param name="port">The proxy's port, 1-65535.</param>
    /// <param name="userName">The user name, or <see langword="null"/> for none.</param>
    /// <param name="password">The password, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException">The host is empty or invalid, a password is given without a user name, the user name contains <c>:</c>, or the user name or password contains a control character.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The port is outside 1-65535.</exception>
    public ProxyEndpoint(ProxyScheme scheme, string host, int port, string? userName = null, string? password = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        if (!Enum.IsDefined(scheme))
        {
            throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "Unknown proxy scheme.");
        }

        var trimmed = host.Trim().TrimStart('[').TrimEnd(']');
        if (Uri.CheckHostName(trimmed) is UriHostNameType.Unknown or UriHostNameType.Basic)
        {
            throw new ArgumentException($"'{trimmed}' is not a valid proxy host name or IP address.", nameof(host));
        }

        if (password is not null && string.IsNullOrEmpty(userName))
        {
            throw new ArgumentException("A proxy password needs a user name.", nameof(password));
        }

        if (Internal.ProxyEndpointParser.CheckCredentials(userName, null) is { } userProblem)
        {
            throw new ArgumentException("The proxy's " + userProblem[4..], nameof(userName));
        }

        if (Internal.ProxyEndpointParser.CheckCredentials(null, password) is { } passwordProblem)
        {
            throw new ArgumentException("The proxy's " + passwordProblem[4..], nameof(password));
        }

        if (scheme is ProxyScheme.Socks4 or ProxyScheme.Socks4a && password is not null)
        {
            throw new ArgumentException("SOCKS4 proxies take a user id but no password.", nameof(password));
        }

        Scheme = scheme;
        Host = trimmed.ToLowerInvariant();
        Port = port;
        UserName = string.IsNullOrEmpty(userName) ? null : userName;
        _password = password;
        Id = ComputeId(Scheme, Host, Port, UserName, _password);
    }

    /// <summary>Gets the protocol spoken to the proxy.</summary>
    public ProxyScheme Scheme { get; }

    /// <summary>Gets the proxy's host name or IP address, lowercase (IPv6 without brackets).</summary>
    public string Host { get; }

    /// <summary>Gets the proxy's port.</summary>
    public int Port { get; }

    /// <summary>Gets the user name, if any. Treat it as a secret: gateway proxies carry session ids in it.</summary>
    public string? UserName { get; }

    /// <summary>Gets a value indicating whether the proxy has credentials.</summary>
    public bool HasCredentials => UserName is not null;

    /// <summary>
    /// Gets a stable, opaque identifier (<c>px-</c> and 16 hexadecimal digits of a SHA-256 over the scheme, host, port
    /// and credentials): the same in every process, safe for logs, metric tags and client names.
    /// </summary>
    public string Id { get; }

    /// <summary>Gets the tags (country, ASN, provider, any key/value), compared case-insensitively by key.</summary>
    /// <exception cref="ArgumentException">Two keys differ only by case.</exception>
    public IReadOnlyDictionary<string, string> Tags
    {
        get => _tags;
        init => _tags = value is null || value.Count == 0 ? EmptyTags : new Dictionary<string, string>(value, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Gets the most requests in flight through this proxy at once; <see langword="null"/> for the pool's default.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>Gets the gateway this identity was rendered from, if any.</summary>
    internal Sessions.Internal.GatewayDefinition? Gateway { get; init; }

    /// <summary>Gets the minimum time between two request starts through this proxy; <see langword="null"/> for the pool's default.</summary>
    public TimeSpan? MinDelay { get; init; }

    private static IReadOnlyDictionary<string, string> EmptyTags { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the credentials for <see cref="System.Net.WebProxy.Credentials"/>, or <see langword="null"/>.</summary>
    /// <returns>The credentials.</returns>
    public NetworkCredential? GetCredentials() => UserName is null ? null : new NetworkCredential(UserName, _password ?? string.Empty);

    /// <summary>Returns the proxy's address without credentials, for example <c>http://10.0.0.1:8080</c>.</summary>
    /// <returns>The address.</returns>
    public Uri GetAddress() => new($"{SchemeName(Scheme)}://{FormatHost(Host)}:{Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Returns the opaque id and the address, with any user name shown as <c>***</c>.</summary>
    /// <returns>A redacted description.</returns>
    public override string ToString() =>
        $"{Id} ({SchemeName(Scheme)}://{(HasCredentials ? "***@" : string.Empty)}{FormatHost(Host)}:{Port.ToString(CultureInfo.InvariantCulture)})";

    /// <inheritdoc />
    public bool Equals(ProxyEndpoint? other) =>
        other is not null
        && Scheme == other.Scheme
        && Port == other.Port
        && string.Equals(Host, other.Host, StringComparison.Ordinal)
        && string.Equals(UserName, other.UserName, StringComparison.Ordinal)
        && string.Equals(_password, other._password, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ProxyEndpoint);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Scheme, Host, Port, UserName);

    /// <summary>
    /// Parses one proxy: a URI (<c>http://user:pass@host:port</c>, <c>socks5://host:port</c>, ...) or a list format
    /// (<c>host:port</c>, <c>host:port:user:pass</c>, <c>user:pass@host:port</c>; these default to <c>http</c>).
    /// </summary>
    /// <param name="text">The text.</param>
    /// <returns>The proxy.</returns>
    /// <exception cref="FormatException">The text is not a proxy; the message shows it with credentials redacted.</exception>
    public static ProxyEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!ProxyEndpointParser.TryParse(text, out var endpoint, out var error))
        {
            throw new FormatException($"Not a valid proxy ('{ProxyEndpointParser.Redact(text)}'): {error}");
        }

        return endpoint;
    }

    /// <summary>Tries to parse one proxy; see <see cref="Parse(string)"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="endpoint">The proxy, when the text is valid.</param>
    /// <returns><see langword="true"/> when the text is a valid proxy.</returns>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ProxyEndpoint? endpoint) =>
        ProxyEndpointParser.TryParse(text, out endpoint, out _);

    /// <summary>
    /// Parses a proxy list, one proxy a line in any format <see cref="Parse(string)"/> accepts. Blank lines and lines
    /// starting with <c>#</c> are skipped. Duplicates (same scheme, host, port and credentials) are merged.
    /// </summary>
    /// <param name="lines">The lines.</param>
    /// <returns>The proxies, in order of first appearance.</returns>
    /// <exception cref="FormatException">A line is not a proxy; the message gives its line number and a redacted copy.</exception>
    public static IReadOnlyList<ProxyEndpoint> ParseList(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var result = new List<ProxyEndpoint>();
        var seen = new HashSet<ProxyEndpoint>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw?.Trim() ?? string.Empty;
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (!ProxyEndpointParser.TryParse(line, out var endpoint, out var error))
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                    $"Line {number} is not a valid proxy ('{ProxyEndpointParser.Redact(line)}'): {error}"));
            }

            if (seen.Add(endpoint))
            {
                result.Add(endpoint);
            }
        }

        return result;
    }

    internal static string SchemeName(ProxyScheme scheme) => scheme switch
    {
        ProxyScheme.Http => "http",
        ProxyScheme.Https => "https",
        ProxyScheme.Socks4 => "socks4",
        ProxyScheme.Socks4a => "socks4a",
        _ => "socks5",
    };

    private static string FormatHost(string host) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;

    private static string ComputeId(ProxyScheme scheme, string host, int port, string? userName, string? password)
    {
        var identity = string.Create(CultureInfo.InvariantCulture, $"{SchemeName(scheme)}\n{host}\n{port}\n{userName}\n{password}");
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(identity), hash);
        return "px-" + Convert.ToHexString(hash[..8]).ToLowerInvariant();
    }
}
