namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// The rules of one robots.txt for one user agent (RFC 9309): the group naming the agent, else the <c>*</c> group;
/// the longest matching <c>Allow</c>/<c>Disallow</c> pattern wins (<c>Allow</c> on a tie), <c>*</c> matches any
/// characters and a final <c>$</c> anchors the end; <c>Crawl-delay</c> in seconds.
/// </summary>
internal sealed class RobotsRules
{
    public static readonly RobotsRules AllowAll = new([], null);

    private readonly (string Pattern, bool Allow)[] _rules;

    public RobotsRules((string Pattern, bool Allow)[] rules, TimeSpan? crawlDelay)
    {
        _rules = rules;
        CrawlDelay = crawlDelay;
    }

    public TimeSpan? CrawlDelay { get; }

    /// <summary>Parses robots.txt text for <paramref name="userAgent"/>; whatever cannot be read is skipped (a broken file allows).</summary>
    public static RobotsRules Parse(string text, string userAgent)
    {
        var groups = new List<Group>();
        Group? current = null;
        var lastWasAgent = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw;
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                line = line[..hash];
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var key = line[..colon].Trim().ToUpperInvariant();
            var value = line[(colon + 1)..].Trim();
            if (key == "USER-AGENT")
            {
                if (!lastWasAgent || current is null)
                {
                    current = new Group();
                    groups.Add(current);
                }

                current.Agents.Add(value);
                lastWasAgent = true;
                continue;
            }

            lastWasAgent = false;
            if (current is null)
            {
                continue;
            }

            if (key is "ALLOW" or "DISALLOW" && value.Length > 0)
            {
                current.Rules.Add((value, key == "ALLOW"));
            }
            else if (key == "CRAWL-DELAY"
                && double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds is >= 0 and < 86_400)
            {
                current.Delay = TimeSpan.FromSeconds(seconds);
            }
        }

        var mine = groups.Where(g => g.Agents.Exists(a => a != "*" && a.Length > 0 && userAgent.Contains(a, StringComparison.OrdinalIgnoreCase))).ToList();
        if (mine.Count == 0)
        {
            mine = groups.Where(g => g.Agents.Contains("*")).ToList();
        }

        return mine.Count == 0
            ? AllowAll
            : new RobotsRules([.. mine.SelectMany(g => g.Rules)], mine.Select(g => g.Delay).FirstOrDefault(d => d is not null));
    }

    /// <summary>Whether <paramref name="pathAndQuery"/> may be fetched.</summary>
    public bool IsAllowed(string pathAndQuery)
    {
        var best = -1;
        var allowed = true;
        foreach (var (pattern, allow) in _rules)
        {
            if (pattern.Length >= best && Matches(pattern, pathAndQuery) && (pattern.Length > best || allow))
            {
                best = pattern.Length;
                allowed = allow;
            }
        }

        return allowed;
    }

    private static bool Matches(string pattern, string path)
    {
        var anchored = pattern.EndsWith('$');
        var body = anchored ? pattern[..^1] : pattern;
        return Match(body.AsSpan(), path.AsSpan(), anchored);
    }

    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> path, bool anchored)
    {
        var star = pattern.IndexOf('*');
        if (star < 0)
        {
            return anchored ? path.SequenceEqual(pattern) : path.StartsWith(pattern, StringComparison.Ordinal);
        }

        if (!path.StartsWith(pattern[..star], StringComparison.Ordinal))
        {
            return false;
        }

        var rest = pattern[(star + 1)..];
        for (var i = star; i <= path.Length; i++)
        {
            if (Match(rest, path[i..], anchored))
            {
                return true;
            }
        }

        return false;
    }

    private sealed class Group
    {
        public List<string> Agents { get; } = [];

        public List<(string Pattern, bool Allow)> Rules { get; } = [];

        public TimeSpan? Delay { get; set; }
    }
}
