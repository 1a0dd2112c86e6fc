using ProxyScheduler.Classification;

namespace ProxyScheduler.Politeness.Internal;

/// <summary>Resolves the effective <see cref="HostSettings"/> of a host from the default and the pattern overrides.</summary>
internal sealed class HostSettingsResolver
{
    private readonly HostSettings _default;
    private readonly (HostPattern Pattern, HostSettings Settings)[] _rules;
    private readonly HostPattern[] _metricPatterns;

    public HostSettingsResolver(ProxySchedulerOptions options)
        : this(options, new Dictionary<string, IResponseClassifier>(StringComparer.OrdinalIgnoreCase))
    {
    }

    /// <exception cref="InvalidOperationException">A classifier name is not registered.</exception>
    public HostSettingsResolver(ProxySchedulerOptions options, IReadOnlyDictionary<string, IResponseClassifier> classifiers)
    {
        var classification = options.Classification ?? new ClassificationOptions();
        var d = options.DefaultHost ?? new HostOptions();
        _default = new HostSettings(
            d.MaxConcurrency ?? SchedulerDefaults.HostMaxConcurrency,
            d.MinDelay ?? TimeSpan.Zero,
            d.MaxJitter ?? TimeSpan.Zero,
            ResolveClassifier(d.Classifier ?? classification.Classifier, d.BlockMarkers, classification, classifiers, "DefaultHost:Classifier"))
        {
            StartsPerSecond = StartsPerSecond(d.RateLimit, d.RateLimitPeriod),
            Burst = d.RateLimitBurst ?? 1,
            MaxRetryAfter = d.MaxRetryAfter ?? SchedulerDefaults.MaxRetryAfter,
            Adaptive = d.Adaptive ?? false,
        };

        var rules = new List<(HostPattern, HostSettings)>(options.Hosts.Count);
        foreach (var (text, host) in options.Hosts)
        {
            var pattern = HostPattern.Parse(text, nameof(options.Hosts));
            var classifier = host?.Classifier is null && host?.BlockMarkers is null
                ? _default.Classifier
                : ResolveClassifier(host.Classifier ?? d.Classifier ?? classification.Classifier, host.BlockMarkers ?? d.BlockMarkers, classification, classifiers, $"Hosts:{text}:Classifier");
            rules.Add((pattern, new HostSettings(
                host?.MaxConcurrency ?? _default.MaxConcurrency,
                host?.MinDelay ?? _default.MinDelay,
                host?.MaxJitter ?? _default.MaxJitter,
                classifier)
            {
                StartsPerSecond = StartsPerSecond(host?.RateLimit ?? d.RateLimit, host?.RateLimitPeriod ?? d.RateLimitPeriod),
                Burst = host?.RateLimitBurst ?? _default.Burst,
                MaxRetryAfter = host?.MaxRetryAfter ?? _default.MaxRetryAfter,
                Adaptive = host?.Adaptive ?? _default.Adaptive,
            }));
        }

        // Most specific first, so the first match wins.
        rules.Sort(static (a, b) => b.Item1.CompareSpecificity(a.Item1));
        _rules = [.. rules];
        _metricPatterns = [.. options.PerHostMetrics.Select(p => HostPattern.Parse(p, nameof(options.PerHostMetrics)))];
    }

    /// <summary>Gets a value indicating whether some hosts may get per-host metric series.</summary>
    public bool HasPerHostMetrics => _metricPatterns.Length > 0;

    /// <summary>Tells whether <paramref name="key"/> is on the per-host metrics allow-list.</summary>
    public bool WantsMetrics(in HostKey key)
    {
        foreach (var pattern in _metricPatterns)
        {
            if (pattern.Matches(key))
            {
                return true;
            }
        }

        return false;
    }

    private static double? StartsPerSecond(double? limit, TimeSpan? period) =>
        limit is { } n ? n / (period ?? SchedulerDefaults.RateLimitPeriod).TotalSeconds : null;

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

    private static IResponseClassifier ResolveClassifier(
        string name,
        IList<string>? markers,
        ClassificationOptions classification,
        IReadOnlyDictionary<string, IResponseClassifier> classifiers,
        string setting)
    {
        if (string.Equals(name, DefaultResponseClassifier.DefaultName, StringComparison.OrdinalIgnoreCase))
        {
            return new DefaultResponseClassifier(classification.BlockStatusCodes, markers ?? classification.BlockMarkers, classification.MarkerScanBytes);
        }

        return classifiers.TryGetValue(name, out var classifier)
            ? classifier
            : throw new InvalidOperationException(
                $"ProxyScheduler:{setting} names the response classifier '{name}', which is not registered (registered: {string.Join(", ", classifiers.Keys.Prepend(DefaultResponseClassifier.DefaultName))}).");
    }
}
