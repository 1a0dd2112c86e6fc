using System.Globalization;
using System.Security.Cryptography;
using ProxyScheduler.Proxies.Sessions.Internal;

namespace ProxyScheduler.Proxies.Sessions;

/// <summary>
/// How one provider's gateway reads its credentials: the user name and password templates (<c>{name}</c> placeholders,
/// <c>[...]</c> groups dropped when a placeholder inside has no value), the alphabet and length of session ids it
/// accepts, and how long it keeps a sticky session. Gateways silently ignore what they do not understand, so session
/// ids are generated to these rules and a caller's id that breaks them is rejected at once.
/// </summary>
/// <remarks>
/// Placeholders: <c>{user}</c>, <c>{password}</c>, <c>{session}</c>, <c>{minutes}</c> and <c>{seconds}</c> (the
/// provider-side session lifetime), any key of <see cref="GatewayProxyOptions.Parameters"/> (such as <c>zone</c>),
/// and the request's proxy tags (such as <c>country</c>, <c>city</c>, <c>state</c>, <c>asn</c>). The grammars of the
/// presets follow the providers' documentation at the time of writing; check them against your plan.
/// </remarks>
public sealed class GatewayPreset
{
    private const string Alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /// <summary>Initializes a new instance of the <see cref="GatewayPreset"/> class.</summary>
    /// <param name="name">The preset's name.</param>
    /// <param name="userNameTemplate">The user name template.</param>
    /// <param name="passwordTemplate">The password template.</param>
    /// <param name="sessionIdAlphabet">The characters a session id may contain.</param>
    /// <param name="sessionIdMinLength">The shortest session id accepted.</param>
    /// <param name="sessionIdMaxLength">The longest session id accepted.</param>
    /// <param name="maxSessionLifetime">The longest sticky session the provider keeps.</param>
    /// <param name="upperCaseCountry">Whether the provider spells country codes in capitals (<c>US</c> rather than <c>us</c>).</param>
    /// <exception cref="FormatException">A template is malformed.</exception>
    /// <exception cref="ArgumentException">The alphabet is empty, or the lengths are out of order.</exception>
    public GatewayPreset(
        string name,
        string userNameTemplate,
        string passwordTemplate,
        string sessionIdAlphabet,
        int sessionIdMinLength,
        int sessionIdMaxLength,
        TimeSpan maxSessionLifetime,
        bool upperCaseCountry = false)
    {
        UpperCaseCountry = upperCaseCountry;
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrEmpty(sessionIdAlphabet);
        ArgumentOutOfRangeException.ThrowIfLessThan(sessionIdMinLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sessionIdMaxLength, sessionIdMinLength);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxSessionLifetime, TimeSpan.Zero);
        Name = name;
        UserName = CredentialTemplate.Parse(userNameTemplate, $"Gateway preset {name}: user name template");
        Password = CredentialTemplate.Parse(passwordTemplate, $"Gateway preset {name}: password template");
        SessionIdAlphabet = sessionIdAlphabet;
        SessionIdMinLength = sessionIdMinLength;
        SessionIdMaxLength = sessionIdMaxLength;
        MaxSessionLifetime = maxSessionLifetime;
    }

    /// <summary>Gets Bright Data: <c>brd-customer-{user}-zone-{zone}[-country-{country}][-state-{state}][-city-{city}][-asn-{asn}][-session-{session}]</c>.</summary>
    public static GatewayPreset BrightData { get; } = new("BrightData",
        "brd-customer-{user}-zone-{zone}[-country-{country}][-state-{state}][-city-{city}][-asn-{asn}][-session-{session}]", "{password}",
        Alphanumeric, 1, 32, TimeSpan.FromMinutes(7));

    /// <summary>Gets Oxylabs residential: <c>customer-{user}[-cc-{country}][-st-{state}][-city-{city}][-sessid-{session}][-sesstime-{minutes}]</c>.</summary>
    public static GatewayPreset Oxylabs { get; } = new("Oxylabs",
        "customer-{user}[-cc-{country}][-st-{state}][-city-{city}][-sessid-{session}][-sesstime-{minutes}]", "{password}",
        Alphanumeric, 1, 32, TimeSpan.FromMinutes(30), upperCaseCountry: true);

    /// <summary>Gets SOAX: <c>package-{user}[-country-{country}][-region-{state}][-city-{city}][-isp-{asn}][-sessionid-{session}][-sessionlength-{seconds}]</c>.</summary>
    public static GatewayPreset Soax { get; } = new("Soax",
        "package-{user}[-country-{country}][-region-{state}][-city-{city}][-isp-{asn}][-sessionid-{session}][-sessionlength-{seconds}]", "{password}",
        Alphanumeric, 1, 32, TimeSpan.FromHours(1));

    /// <summary>Gets IPRoyal (parameters in the password): <c>{password}[_country-{country}][_state-{state}][_city-{city}][_session-{session}][_lifetime-{minutes}m]</c>; session ids are exactly 8 letters or digits.</summary>
    public static GatewayPreset IPRoyal { get; } = new("IPRoyal",
        "{user}", "{password}[_country-{country}][_state-{state}][_city-{city}][_session-{session}][_lifetime-{minutes}m]",
        Alphanumeric, 8, 8, TimeSpan.FromDays(1));

    /// <summary>Gets Geonode: <c>geonode_{user}[-type-{type}][-country-{country}][-state-{state}][-city-{city}][-session-{session}][-lifetime-{minutes}]</c>.</summary>
    public static GatewayPreset Geonode { get; } = new("Geonode",
        "geonode_{user}[-type-{type}][-country-{country}][-state-{state}][-city-{city}][-session-{session}][-lifetime-{minutes}]", "{password}",
        Alphanumeric, 1, 32, TimeSpan.FromDays(1));

    /// <summary>Gets Apify: <c>groups-{group}[,session-{session}][,country-{country}]</c>; session ids of letters, digits, <c>.</c>, <c>_</c> and <c>~</c>, up to 50.</summary>
    public static GatewayPreset Apify { get; } = new("Apify",
        "groups-{group}[,session-{session}][,country-{country}]", "{password}",
        Alphanumeric + "._~", 1, 50, TimeSpan.FromHours(24), upperCaseCountry: true);

    /// <summary>Gets the generic preset: the user name and password templates come from <see cref="GatewayProxyOptions"/>; session ids of 8 to 32 letters and digits.</summary>
    public static GatewayPreset Generic { get; } = new("Generic", "{user}", "{password}", Alphanumeric, 8, 32, TimeSpan.FromMinutes(10));

    /// <summary>Gets the presets by name.</summary>
    public static IReadOnlyList<GatewayPreset> All { get; } = [BrightData, Oxylabs, Soax, IPRoyal, Geonode, Apify, Generic];

    /// <summary>Gets the preset's name.</summary>
    public string Name { get; }

    /// <summary>Gets the characters a session id may contain.</summary>
    public string SessionIdAlphabet { get; }

    /// <summary>Gets the shortest session id the provider accepts.</summary>
    public int SessionIdMinLength { get; }

    /// <summary>Gets the longest session id the provider accepts.</summary>
    public int SessionIdMaxLength { get; }

    /// <summary>Gets a value indicating whether the provider spells country codes in capitals.</summary>
    public bool UpperCaseCountry { get; }

    /// <summary>Gets the longest sticky session the provider keeps; the scheduler rotates a session before it.</summary>
    public TimeSpan MaxSessionLifetime { get; }

    internal CredentialTemplate UserName { get; }

    internal CredentialTemplate Password { get; }

    /// <summary>Finds a preset by name (case-insensitive).</summary>
    /// <param name="name">The name.</param>
    /// <returns>The preset.</returns>
    /// <exception cref="ArgumentException">No preset has that name; the message lists them.</exception>
    public static GatewayPreset FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"'{name}' is not a gateway preset (known: {string.Join(", ", All.Select(static p => p.Name))}).", nameof(name));
    }

    /// <summary>Returns why <paramref name="sessionId"/> would not be understood by the provider, or <see langword="null"/> when it is valid.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <returns>The reason, naming the rule (never the id), or <see langword="null"/>.</returns>
    public string? ValidateSessionId(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (sessionId.Length < SessionIdMinLength || sessionId.Length > SessionIdMaxLength)
        {
            return SessionIdMinLength == SessionIdMaxLength
                ? string.Create(CultureInfo.InvariantCulture, $"{Name} session ids are exactly {SessionIdMinLength} characters long; this one has {sessionId.Length}.")
                : string.Create(CultureInfo.InvariantCulture, $"{Name} session ids are {SessionIdMinLength} to {SessionIdMaxLength} characters long; this one has {sessionId.Length}.");
        }

        foreach (var c in sessionId)
        {
            if (!SessionIdAlphabet.Contains(c, StringComparison.Ordinal))
            {
                return $"{Name} session ids may contain only {DescribeAlphabet()}; this one has another character.";
            }
        }

        return null;
    }

    /// <summary>Generates a random session id the provider accepts.</summary>
    /// <returns>The id.</returns>
    public string NewSessionId()
    {
        var length = Math.Clamp(16, SessionIdMinLength, SessionIdMaxLength);
        return RandomNumberGenerator.GetString(SessionIdAlphabet.AsSpan(0, Math.Min(SessionIdAlphabet.Length, Alphanumeric.Length)), length);
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private string DescribeAlphabet() =>
        SessionIdAlphabet.Length == Alphanumeric.Length ? "letters and digits" : $"letters, digits and '{SessionIdAlphabet[Alphanumeric.Length..]}'";
}
