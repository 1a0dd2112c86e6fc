using System.Net;
using System.Text;
using ProxyScheduler.Processing;

namespace ProxyScheduler.AspNetCore;

/// <summary>What a job keeps of a page: its title and how many links it has.</summary>
/// <param name="Title">The page's <c>&lt;title&gt;</c>, decoded and trimmed; <see langword="null"/> when it has none.</param>
/// <param name="Links">The number of <c>&lt;a</c> elements.</param>
/// <param name="ContentType">The response's media type.</param>
public sealed record PageSummary(string? Title, int Links, string? ContentType);

/// <summary>The CPU-bound step of every job, on the scheduler's post-processing workers (all cores, back-pressured).</summary>
public sealed class PageSummarizer : ParallelPostProcessor<PageSummary>
{
    private const int MaxTitleLength = 200;

    /// <inheritdoc />
    protected override PageSummary Process(ScheduledResponse response, CancellationToken cancellationToken)
    {
        var body = response.Body.Span;
        var mediaType = response.ContentHeaders.ContentType?.MediaType;
        return new PageSummary(FindTitle(body), Count(body, "<a "u8) + Count(body, "<A "u8), mediaType);
    }

    private static string? FindTitle(ReadOnlySpan<byte> html)
    {
        var start = IndexOfIgnoreCase(html, "<title"u8);
        if (start < 0)
        {
            return null;
        }

        var open = html[start..].IndexOf((byte)'>');
        if (open < 0)
        {
            return null;
        }

        var text = html[(start + open + 1)..];
        var end = IndexOfIgnoreCase(text, "</title"u8);
        var raw = Encoding.UTF8.GetString(end < 0 ? text[..Math.Min(text.Length, MaxTitleLength * 4)] : text[..end]);
        var title = WebUtility.HtmlDecode(raw).Trim();
        return title.Length > MaxTitleLength ? title[..MaxTitleLength] : title;
    }

    /// <summary>Finds a tag (its first byte is <c>&lt;</c>, so only the rest needs case folding).</summary>
    private static int IndexOfIgnoreCase(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> tag)
    {
        for (var offset = 0; offset < haystack.Length;)
        {
            var at = haystack[offset..].IndexOf(tag[0]);
            if (at < 0)
            {
                return -1;
            }

            at += offset;
            if (at + tag.Length <= haystack.Length && Ascii.EqualsIgnoreCase(haystack.Slice(at, tag.Length), tag))
            {
                return at;
            }

            offset = at + 1;
        }

        return -1;
    }

    private static int Count(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle)
    {
        var count = 0;
        for (int at; (at = haystack.IndexOf(needle)) >= 0; haystack = haystack[(at + needle.Length)..])
        {
            count++;
        }

        return count;
    }
}
