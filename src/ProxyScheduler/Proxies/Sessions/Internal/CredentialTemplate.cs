using System.Text;

namespace ProxyScheduler.Proxies.Sessions.Internal;

/// <summary>
/// A gateway credential template: literal text, <c>{name}</c> placeholders, and <c>[...]</c> optional groups that are
/// dropped whole when a placeholder inside them has no value. Parsed once; rendered per session and requirement.
/// </summary>
internal sealed class CredentialTemplate
{
    private readonly Part[] _parts;

    private CredentialTemplate(string text, Part[] parts, HashSet<string> names)
    {
        Text = text;
        _parts = parts;
        Names = names;
    }

    public string Text { get; }

    /// <summary>Gets every placeholder name of the template.</summary>
    public IReadOnlySet<string> Names { get; }

    /// <summary>Parses a template.</summary>
    /// <exception cref="FormatException">Unbalanced braces or brackets, an empty or nested placeholder, or a nested group.</exception>
    public static CredentialTemplate Parse(string text, string setting)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<Part>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var literal = new StringBuilder();
        var group = -1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '{':
                    var end = text.IndexOf('}', i + 1);
                    if (end < 0)
                    {
                        throw new FormatException($"{setting}: '{{' at position {i} has no closing '}}'.");
                    }

                    var name = text[(i + 1)..end].Trim().ToLowerInvariant();
                    if (name.Length == 0 || name.AsSpan().IndexOfAny("{[]") >= 0)
                    {
                        throw new FormatException($"{setting}: the placeholder at position {i} is empty or malformed.");
                    }

                    Flush(parts, literal, group);
                    parts.Add(new Part(null, name, group));
                    names.Add(name);
                    i = end;
                    break;
                case '}':
                    throw new FormatException($"{setting}: '}}' at position {i} has no opening '{{'.");
                case '[':
                    if (group >= 0)
                    {
                        throw new FormatException($"{setting}: optional groups '[...]' cannot be nested (position {i}).");
                    }

                    Flush(parts, literal, group);
                    group = i;
                    break;
                case ']':
                    if (group < 0)
                    {
                        throw new FormatException($"{setting}: ']' at position {i} has no opening '['.");
                    }

                    Flush(parts, literal, group);
                    group = -1;
                    break;
                default:
                    literal.Append(c);
                    break;
            }
        }

        if (group >= 0)
        {
            throw new FormatException($"{setting}: the optional group at position {group} has no closing ']'.");
        }

        Flush(parts, literal, group);
        return new CredentialTemplate(text, [.. parts], names);
    }

    /// <summary>Renders the template; an optional group with an unset placeholder is dropped; a required unset placeholder fails.</summary>
    /// <exception cref="InvalidOperationException">A placeholder outside any optional group has no value.</exception>
    public string Render(Func<string, string?> values, string setting)
    {
        var result = new StringBuilder();
        var i = 0;
        while (i < _parts.Length)
        {
            var group = _parts[i].Group;
            if (group < 0)
            {
                var part = _parts[i++];
                result.Append(part.Literal ?? values(part.Name!) ?? throw new InvalidOperationException(
                    $"{setting} needs a value for '{{{part.Name}}}', which is not optional."));
                continue;
            }

            var start = i;
            var complete = true;
            while (i < _parts.Length && _parts[i].Group == group)
            {
                if (_parts[i].Name is { } name && values(name) is null)
                {
                    complete = false;
                }

                i++;
            }

            if (complete)
            {
                for (var k = start; k < i; k++)
                {
                    result.Append(_parts[k].Literal ?? values(_parts[k].Name!));
                }
            }
        }

        return result.ToString();
    }

    private static void Flush(List<Part> parts, StringBuilder literal, int group)
    {
        if (literal.Length > 0)
        {
            parts.Add(new Part(literal.ToString(), null, group));
            literal.Clear();
        }
    }

    private readonly record struct Part(string? Literal, string? Name, int Group);
}
