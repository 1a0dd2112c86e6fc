using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ProxyScheduler.DependencyInjection.Internal;

/// <summary>
/// A key under the scheduler's configuration section that another part of the library reads (for example
/// <c>Redis</c>, read by <c>UseRedis</c>), so that <see cref="UnknownConfigurationKeysValidator"/> does not report it.
/// </summary>
/// <param name="Key">The key, directly under the scheduler's section.</param>
internal sealed record ConfigurationSectionOwner(string Key);

/// <summary>
/// Fails start-up when the configuration section bound to <see cref="ProxySchedulerOptions"/> holds a key that no
/// option reads: a misspelt <c>MaxConcurency</c> would otherwise be ignored without a word and the default used. Every
/// unknown key is named with its full path, with the nearest known key when one is close.
/// </summary>
internal sealed class UnknownConfigurationKeysValidator : IValidateOptions<ProxySchedulerOptions>
{
    private readonly IConfiguration _section;
    private readonly string _prefix;
    private readonly HashSet<string> _owned;

    public UnknownConfigurationKeysValidator(IConfiguration section, string? sectionPath, IEnumerable<ConfigurationSectionOwner> owners)
    {
        _section = section;
        _prefix = string.IsNullOrEmpty(sectionPath) ? ProxySchedulerOptions.SectionName : sectionPath;
        _owned = new HashSet<string>(owners.Select(o => o.Key), StringComparer.OrdinalIgnoreCase);
    }

    public ValidateOptionsResult Validate(string? name, ProxySchedulerOptions options)
    {
        var errors = new List<string>();
        foreach (var child in _section.GetChildren())
        {
            if (!_owned.Contains(child.Key))
            {
                Check(child, typeof(ProxySchedulerOptions), _prefix + ":" + child.Key, errors);
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Checks that <paramref name="section"/> names a property of <paramref name="owner"/>, then its own children.</summary>
    private static void Check(IConfigurationSection section, Type owner, string path, List<string> errors)
    {
        var property = FindProperty(owner, section.Key);
        if (property is null)
        {
            var known = Properties(owner).Select(p => p.Name).ToList();
            var nearest = known.OrderBy(k => Distance(k, section.Key)).FirstOrDefault();
            var hint = nearest is not null && Distance(nearest, section.Key) <= Math.Max(2, section.Key.Length / 4)
                ? $" Did you mean '{nearest}'?"
                : $" The keys there are: {string.Join(", ", known)}.";
            errors.Add($"{path} is not a setting the scheduler reads, so its value would be ignored.{hint}");
            return;
        }

        CheckValue(section, property.PropertyType, path, errors);
    }

    private static void CheckValue(IConfigurationSection section, Type type, string path, List<string> errors)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsLeaf(type))
        {
            foreach (var child in section.GetChildren())
            {
                errors.Add($"{path}:{child.Key} is not a setting the scheduler reads ({path} takes a single value).");
            }

            return;
        }

        if (ElementOfDictionary(type) is { } valueType)
        {
            foreach (var child in section.GetChildren())
            {
                CheckValue(child, valueType, path + ":" + child.Key, errors); // the key is the dictionary's own
            }

            return;
        }

        if (ElementOfList(type) is { } itemType)
        {
            foreach (var child in section.GetChildren())
            {
                CheckValue(child, itemType, path + ":" + child.Key, errors);
            }

            return;
        }

        foreach (var child in section.GetChildren())
        {
            Check(child, type, path + ":" + child.Key, errors);
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid)
        || type == typeof(object);

    private static Type? ElementOfDictionary(Type type)
    {
        foreach (var candidate in Interfaces(type))
        {
            if (candidate.IsGenericType
                && (candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>) || candidate.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            {
                return candidate.GetGenericArguments()[1];
            }
        }

        return null;
    }

    private static Type? ElementOfList(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        foreach (var candidate in Interfaces(type))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return typeof(object);
    }

    private static Type[] Interfaces(Type type) => type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces();

#pragma warning disable IL2070, IL2075 // The option types are the library's own and are kept whole (they are bound by the configuration binder too).
    private static IEnumerable<PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetMethod is not null && p.GetIndexParameters().Length == 0);
#pragma warning restore IL2070, IL2075

    private static PropertyInfo? FindProperty(Type type, string key) =>
        Properties(type).FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase)
            || string.Equals(p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name, key, StringComparison.OrdinalIgnoreCase));

    // Levenshtein distance, case-insensitive: enough to point at the key a typo meant.
    private static int Distance(string a, string b)
    {
        a = a.ToUpperInvariant();
        b = b.ToUpperInvariant();
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
