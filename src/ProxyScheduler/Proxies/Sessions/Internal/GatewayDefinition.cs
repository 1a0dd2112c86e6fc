using System.Globalization;

namespace ProxyScheduler.Proxies.Sessions.Internal;

/// <summary>A configured gateway: its templates, preset and parameters; renders the credentials of one identity.</summary>
internal sealed class GatewayDefinition
{
    private readonly CredentialTemplate _user;
    private readonly CredentialTemplate _password;
    private readonly Dictionary<string, string> _parameters;

    /// <exception cref="ArgumentException">The options are invalid (the message names the setting, never a secret).</exception>
    public GatewayDefinition(GatewayProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Uri.TryCreate(options.Address, UriKind.Absolute, out var address) || !string.IsNullOrEmpty(address.UserInfo)
            || address.Scheme is not ("http" or "https" or "socks5" or "socks5h" or "socks4" or "socks4a"))
        {
            throw new ArgumentException("GatewayProxyOptions.Address must be an absolute proxy URI without credentials, such as http://gate.example.com:7000.", nameof(options));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(options.User, "options.User");
        Preset = options.Preset ?? throw new ArgumentException("GatewayProxyOptions.Preset must be set.", nameof(options));
        _user = options.UserNameTemplate is { } u ? CredentialTemplate.Parse(u, "GatewayProxyOptions.UserNameTemplate") : Preset.UserName;
        _password = options.PasswordTemplate is { } p ? CredentialTemplate.Parse(p, "GatewayProxyOptions.PasswordTemplate") : Preset.Password;
        Lifetime = options.SessionLifetime ?? Preset.MaxSessionLifetime;
        if (Lifetime <= TimeSpan.Zero || Lifetime > Preset.MaxSessionLifetime)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"GatewayProxyOptions.SessionLifetime must be positive and at most {Preset.Name}'s {Preset.MaxSessionLifetime}."), nameof(options));
        }

        IdleTimeout = options.SessionIdleTimeout;
        if (IdleTimeout is { } idle && (idle <= TimeSpan.Zero || idle > Lifetime))
        {
            throw new ArgumentException("GatewayProxyOptions.SessionIdleTimeout must be positive and at most the session lifetime.", nameof(options));
        }

        _parameters = new Dictionary<string, string>(options.Parameters, StringComparer.OrdinalIgnoreCase);
        Tags = new Dictionary<string, string>(options.Tags, StringComparer.OrdinalIgnoreCase);
        Address = address;
        User = options.User;
        PasswordValue = options.Password;
        UseSessionKeyAsSessionId = options.UseSessionKeyAsSessionId;
        ExitHeader = options.ExitHeader;
        MaxConcurrencyPerIdentity = options.MaxConcurrencyPerIdentity;
        MaxConcurrency = options.MaxConcurrency;
        if (MaxConcurrency is < 1 || MaxConcurrencyPerIdentity is < 1)
        {
            throw new ArgumentException("GatewayProxyOptions.MaxConcurrency and MaxConcurrencyPerIdentity must be at least 1 when set.", nameof(options));
        }
        if (!_user.Names.Contains("session") && !_password.Names.Contains("session"))
        {
            throw new ArgumentException("The gateway's templates have no {session} placeholder, so sessions could not stick.", nameof(options));
        }

        // Render once without a session: a missing required parameter fails here, at start-up.
        _ = Render(null, null);
    }

    public GatewayPreset Preset { get; }

    public Uri Address { get; }

    public string User { get; }

    public string PasswordValue { get; }

    public TimeSpan Lifetime { get; }

    /// <summary>Gets how long the provider keeps an unused session, if it drops idle ones.</summary>
    public TimeSpan? IdleTimeout { get; }

    public bool UseSessionKeyAsSessionId { get; }

    public string? ExitHeader { get; }

    public int? MaxConcurrencyPerIdentity { get; }

    public int? MaxConcurrency { get; }

    public IReadOnlyDictionary<string, string> Tags { get; }

    /// <summary>Whether the gateway can meet the requirement tag <paramref name="key"/>=<paramref name="value"/> (a placeholder it renders, or a tag of its own).</summary>
    public bool Supports(string key, string value) =>
        Tags.TryGetValue(key, out var tag) ? string.Equals(tag, value, StringComparison.OrdinalIgnoreCase)
            : _user.Names.Contains(key) || _password.Names.Contains(key);

    /// <summary>Renders the credentials of one identity: a session id (or none, for the gateway's rotating identity) and the requirement's tags.</summary>
    /// <exception cref="InvalidOperationException">A required placeholder has no value.</exception>
    public (string User, string Password) Render(string? sessionId, IReadOnlyDictionary<string, string>? tags)
    {
        string? Value(string name) => name switch
        {
            "user" => User,
            "password" => PasswordValue,
            "session" => sessionId,
            "minutes" => sessionId is null ? null : Math.Max(1, (int)Lifetime.TotalMinutes).ToString(CultureInfo.InvariantCulture),
            "seconds" => sessionId is null ? null : Math.Max(1, (int)Lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "country" when tags is not null && tags.TryGetValue(name, out var c) => Preset.UpperCaseCountry ? c.ToUpperInvariant() : c,
            _ => tags is not null && tags.TryGetValue(name, out var t) ? t : _parameters.GetValueOrDefault(name),
        };

        return (_user.Render(Value, "The gateway's user name template"), _password.Render(Value, "The gateway's password template"));
    }

    /// <summary>Creates the endpoint of one identity.</summary>
    public ProxyEndpoint CreateEndpoint(string? sessionId, IReadOnlyDictionary<string, string>? tags)
    {
        var (user, password) = Render(sessionId, tags);
        var scheme = Address.Scheme switch
        {
            "https" => ProxyScheme.Https,
            "socks4" => ProxyScheme.Socks4,
            "socks4a" => ProxyScheme.Socks4a,
            "socks5" or "socks5h" => ProxyScheme.Socks5,
            _ => ProxyScheme.Http,
        };

        return new ProxyEndpoint(scheme, Address.IdnHost, Address.Port, user, password.Length == 0 ? null : password)
        {
            Tags = Tags.Count == 0 ? null! : new Dictionary<string, string>(Tags, StringComparer.OrdinalIgnoreCase),
            MaxConcurrency = sessionId is null && tags is null ? MaxConcurrency : MaxConcurrencyPerIdentity,
            Gateway = this,
        };
    }
}
