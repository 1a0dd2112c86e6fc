using System.Globalization;

namespace ProxyScheduler.Proxies;

/// <summary>
/// What a request needs of the proxy it goes through: any proxy of the pool (<see cref="Any"/>), no proxy at all
/// (<see cref="Direct"/>), or a proxy whose tags match (<see cref="WithTag"/>, for example <c>country=de</c>).
/// A requirement that no proxy of the pool meets fails the request at once with
/// <see cref="RequestFailureReason.NoMatchingProxy"/>; it never waits forever and never goes out directly.
/// </summary>
public sealed class ProxyRequirement : IEquatable<ProxyRequirement>
{
    private static readonly Dictionary<string, string> NoTags = new(StringComparer.OrdinalIgnoreCase);

    private readonly KeyValuePair<string, string>[] _tags;

    private ProxyRequirement(bool direct, KeyValuePair<string, string>[] tags)
    {
        IsDirect = direct;
        _tags = tags;
        var tagMap = new Dictionary<string, string>(tags.Length, StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in tags)
        {
            tagMap[key] = value;
        }

        Tags = tags.Length == 0 ? NoTags : tagMap;
        Key = direct ? "direct" : tags.Length == 0 ? "any" : string.Join(';', tags.Select(static t => $"{t.Key}={t.Value}"));
    }

    /// <summary>Gets the requirement that any proxy of the pool meets. This is what a request without a requirement gets when proxies are configured.</summary>
    public static ProxyRequirement Any { get; } = new(direct: false, []);

    /// <summary>Gets the requirement to send the request without a proxy, from this machine's own address.</summary>
    public static ProxyRequirement Direct { get; } = new(direct: true, []);

    /// <summary>Gets a value indicating whether the request goes out without a proxy.</summary>
    public bool IsDirect { get; }

    /// <summary>Gets the tags a proxy must carry (all of them, values compared case-insensitively).</summary>
    public IReadOnlyDictionary<string, string> Tags { get; }

    /// <summary>Gets the canonical text of the requirement (<c>any</c>, <c>direct</c>, or sorted <c>key=value;...</c> pairs).</summary>
    internal string Key { get; }

    /// <summary>Gets or sets the candidate set resolved for this requirement, with the pool version it was resolved at.</summary>
    internal object? CachedSet { get; set; }

    /// <summary>Creates a requirement for proxies that carry the tag <paramref name="key"/> with <paramref name="value"/>.</summary>
    /// <param name="key">The tag key, for example <c>country</c>.</param>
    /// <param name="value">The tag value, for example <c>de</c>.</param>
    /// <returns>The requirement.</returns>
    /// <exception cref="ArgumentException">The key or value is empty or contains <c>=</c> or <c>;</c>.</exception>
    public static ProxyRequirement WithTag(string key, string value) => Any.AndTag(key, value);

    /// <summary>Returns a requirement that also needs the tag <paramref name="key"/> with <paramref name="value"/>.</summary>
    /// <param name="key">The tag key.</param>
    /// <param name="value">The tag value.</param>
    /// <returns>The requirement.</returns>
    /// <exception cref="InvalidOperationException">This requirement is <see cref="Direct"/>.</exception>
    /// <exception cref="ArgumentException">The key or value is empty or contains <c>=</c> or <c>;</c>.</exception>
    public ProxyRequirement AndTag(string key, string value)
    {
        CheckPart(key, nameof(key));
        CheckPart(value, nameof(value));
        if (IsDirect)
        {
            throw new InvalidOperationException("A direct request goes through no proxy, so it cannot require proxy tags.");
        }

        var tags = _tags.Where(t => !string.Equals(t.Key, key.Trim(), StringComparison.OrdinalIgnoreCase))
            .Append(new KeyValuePair<string, string>(key.Trim().ToLowerInvariant(), value.Trim().ToLowerInvariant()))
            .OrderBy(static t => t.Key, StringComparer.Ordinal)
            .ToArray();
        return new ProxyRequirement(direct: false, tags);
    }

    /// <summary>
    /// Parses <c>any</c>, <c>direct</c>, or tag pairs such as <c>country=de;asn=3320</c> (separated by <c>;</c> or <c>,</c>).
    /// </summary>
    /// <param name="text">The text.</param>
    /// <returns>The requirement.</returns>
    /// <exception cref="FormatException">The text is not a requirement.</exception>
    public static ProxyRequirement Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.Length == 0 || string.Equals(trimmed, "any", StringComparison.OrdinalIgnoreCase))
        {
            return Any;
        }

        if (string.Equals(trimmed, "direct", StringComparison.OrdinalIgnoreCase))
        {
            return Direct;
        }

        var result = Any;
        foreach (var pair in trimmed.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == pair.Length - 1)
            {
                throw new FormatException($"'{pair}' is not a proxy tag requirement; expected key=value (for example country=de), 'any' or 'direct'.");
            }

            result = result.AndTag(pair[..eq], pair[(eq + 1)..]);
        }

        return result;
    }

    /// <summary>Returns a value indicating whether <paramref name="endpoint"/> meets the requirement.</summary>
    /// <param name="endpoint">The proxy.</param>
    /// <returns><see langword="true"/> when the proxy carries every required tag (never for <see cref="Direct"/>).</returns>
    public bool Matches(ProxyEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (IsDirect)
        {
            return false;
        }

        foreach (var (key, value) in _tags)
        {
            if (endpoint.Gateway is { } gateway)
            {
                // A gateway meets a tag it renders into its credentials (country, city, ...) or carries itself.
                if (!gateway.Supports(key, value))
                {
                    return false;
                }
            }
            else if (!endpoint.Tags.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public bool Equals(ProxyRequirement? other) => other is not null && string.Equals(Key, other.Key, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ProxyRequirement);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Key);

    /// <summary>Returns the canonical text: <c>any</c>, <c>direct</c> or <c>key=value;...</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Key;

    private static void CheckPart(string part, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(part, name);
        if (part.AsSpan().IndexOfAny("=;,") >= 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"A proxy tag {name} cannot contain '=', ';' or ','."), name);
        }
    }
}
