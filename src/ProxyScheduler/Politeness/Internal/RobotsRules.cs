namespace ProxyScheduler.Politeness.Internal;

/// <summary>
/// The rules of one robots.txt for one user agent (RFC 9309): the groups naming the agent, else the <c>*</c> groups;
/// the longest matching <c>Allow</c>/<c>Disallow</c> pattern wins (<c>Allow</c> on a tie), <c>*</c> matches any
/// characters and a final <c>$</c> anchors the end; paths and patterns are compared after percent-encoding
/// normalisation (<see cref="RobotsPath"/>); <c>/robots.txt</c> itself is always allowed; <c>Crawl-delay</c> in
/// seconds. Matching is linear in the pattern and the path (<see cref="RobotsPattern"/>), so no site can make it slow.
/// </summary>
internal sealed class RobotsRules
{
    /// <summary>The most of a robots.txt that is parsed (RFC 9309, section 2.5: at least 500 KiB); the rest is ignored.</summary>
    public const int MaxSize = 500 * 1024;

    /// <summary>The most redirects followed to reach a robots.txt (RFC 9309, section 2.3.1.2: at least five).</summary>
    public const int MaxRedirects = 5;

    public static readonly RobotsRules AllowAll = new([], null);

    private readonly RobotsPattern[] _rules;

    public RobotsRules(RobotsPattern[] rules, TimeSpan? crawlDelay)
    {
        _rules = rules;
        CrawlDelay = crawlDelay;
    }

    private RobotsRules(string unavailable)
        : this([], null)
    {
        Unreachable = unavailable;
    }

    public TimeSpan? CrawlDelay { get; }

    /// <summary>Gets why the robots.txt could not be read (a 5xx, 429 or transport failure), when it could not: every path is then disallowed.</summary>
    public string? Unreachable { get; }

    /// <summary>Gets the number of rules that apply to the user agent.</summary>
    public int Count => _rules.Length;

    /// <summary>The rules of a robots.txt that could not be read: RFC 9309, section 2.3.1.4, says to assume a complete disallow.</summary>
    public static RobotsRules DisallowAll(string reason) => new(reason);

    /// <summary>Parses robots.txt text for <paramref name="userAgent"/>; whatever cannot be read is skipped (a broken file allows).</summary>
    public static RobotsRules Parse(string text, string userAgent)
    {
        var groups = new List<Group>();
        Group? current = null;
        var lastWasAgent = false;
        var content = text.Length > MaxSize ? text.AsSpan(0, MaxSize) : text.AsSpan();
        if (content.Length > 0 && content[0] == '\uFEFF')
        {
            content = content[1..];
        }

        while (content.Length > 0)
        {
            var newline = content.IndexOf('\n');
            var line = newline < 0 ? content : content[..newline];
            content = newline < 0 ? [] : content[(newline + 1)..];
            var hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }

            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim().ToString();
            if (key.Equals("user-agent", StringComparison.OrdinalIgnoreCase))
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

            var allow = key.Equals("allow", StringComparison.OrdinalIgnoreCase);
            var disallow = !allow && key.Equals("disallow", StringComparison.OrdinalIgnoreCase);
            var delay = !allow && !disallow && key.Equals("crawl-delay", StringComparison.OrdinalIgnoreCase);
            if (!allow && !disallow && !delay)
            {
                continue; // Sitemap and unknown lines neither belong to a group nor end one.
            }

            lastWasAgent = false;
            if (current is null)
            {
                continue;
            }

            if ((allow || disallow) && value.Length > 0)
            {
                current.Rules.Add(RobotsPattern.Compile(value, allow));
            }
            else if (delay
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
        if (pathAndQuery == "/robots.txt")
        {
            return true;
        }

        if (Unreachable is not null)
        {
            return false;
        }

        if (_rules.Length == 0)
        {
            return true;
        }

        var path = RobotsPath.Normalize(pathAndQuery);
        var best = -1;
        var allowed = true;
        foreach (var rule in _rules)
        {
            if (rule.Length >= best && (rule.Length > best || (rule.Allow && !allowed)) && rule.Matches(path))
            {
                best = rule.Length;
                allowed = rule.Allow;
            }
        }

        return allowed;
    }

    private sealed class Group
    {
        public List<string> Agents { get; } = [];

        public List<RobotsPattern> Rules { get; } = [];

        public TimeSpan? Delay { get; set; }
    }
}
