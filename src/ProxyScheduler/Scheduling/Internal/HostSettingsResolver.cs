namespace ProxyScheduler.Scheduling.Internal;

/// <summary>Resolves the effective <see cref="HostSettings"/> of a host from the default and the pattern overrides.</summary>
internal sealed class HostSettingsResolver
{
    private readonly HostSettings _default;
    private readonly (HostPattern Pattern, HostSettings Settings)[] _rules;

    public HostSettingsResolver(ProxySchedulerOptions options)
    {
        var d = options.DefaultHost ?? new HostOptions();
        _default = new HostSettings(
            d.MaxConcurrency ?? SchedulerDefaults.HostMaxConcurrency,
            d.MinDelay ?? TimeSpan.Zero,
            d.MaxJitter ?? TimeSpan.Zero);

        var rules = new List<(HostPattern, HostSettings)>(options.Hosts.Count);
        foreach (var (text, host) in options.Hosts)
        {
            var pattern = HostPattern.Parse(text, nameof(options.Hosts));
            rules.Add((pattern, new HostSettings(
                host?.MaxConcurrency ?? _default.MaxConcurrency,
                host?.MinDelay ?? _default.MinDelay,
                host?.MaxJitter ?? _default.MaxJitter)));
        }

        // Most specific first, so the first match wins.
        rules.Sort(static (a, b) => b.Item1.CompareSpecificity(a.Item1));
        _rules = [.. rules];
    }

    public HostSettings Resolve(in HostKey key)
    {
        foreach (var (pattern, settings) in _rules)
        {
            if (pattern.Matches(key))
            {
                return settings;
            }
        }

        return _default;
    }
}
