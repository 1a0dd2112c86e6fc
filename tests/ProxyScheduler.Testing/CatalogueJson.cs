using System.Text.Json;

namespace ProxyScheduler.Testing;

/// <summary>What <see cref="CatalogueJson.Summarize"/> extracts from a <c>/json/{kilobytes}</c> page.</summary>
public sealed record CatalogueSummary(int Products, int InStock, decimal TotalPrice, int DistinctTags, string LongestName);

/// <summary>
/// A CPU-bound parse of a catalogue page: every token of the document is read and the fields are extracted, as a
/// scraper's parsing step does (no I/O, no locks), so the work scales with the cores it is given.
/// </summary>
public static class CatalogueJson
{
    public static CatalogueSummary Summarize(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var products = 0;
        var inStock = 0;
        var total = 0m;
        var tags = new HashSet<string>(StringComparer.Ordinal);
        var longest = string.Empty;
        string? property = null;
        var depth = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    depth++;
                    if (depth == 2)
                    {
                        products++;
                    }

                    break;
                case JsonTokenType.EndObject:
                    depth--;
                    break;
                case JsonTokenType.PropertyName:
                    property = reader.GetString();
                    break;
                case JsonTokenType.Number when property == "price":
                    total += reader.GetDecimal();
                    break;
                case JsonTokenType.True when property == "inStock":
                    inStock++;
                    break;
                case JsonTokenType.String when property == "tags":
                    tags.Add(reader.GetString()!);
                    break;
                case JsonTokenType.String when property == "name":
                    var name = reader.GetString()!;
                    if (name.Length > longest.Length)
                    {
                        longest = name;
                    }

                    break;
                case JsonTokenType.String when property == "description":
                    // Unescaped and decoded like a real extractor would keep it.
                    _ = reader.GetString();
                    break;
            }
        }

        return new CatalogueSummary(products, inStock, total, tags.Count, longest);
    }
}
