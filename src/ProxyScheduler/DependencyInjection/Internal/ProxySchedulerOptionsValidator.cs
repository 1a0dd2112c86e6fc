using System.Globalization;
using Microsoft.Extensions.Options;

namespace ProxyScheduler.DependencyInjection.Internal;

/// <summary>
/// Validates <see cref="ProxySchedulerOptions"/> and reports every error at once, each naming the configuration key
/// and the offending value.
/// </summary>
internal sealed class ProxySchedulerOptionsValidator : IValidateOptions<ProxySchedulerOptions>
{
    private readonly string _prefix;

    public ProxySchedulerOptionsValidator(string? sectionPath = null)
    {
        _prefix = string.IsNullOrEmpty(sectionPath) ? ProxySchedulerOptions.SectionName : sectionPath;
    }

    public ValidateOptionsResult Validate(string? name, ProxySchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        Range(errors, "MaxConcurrency", options.MaxConcurrency, 1, SchedulerDefaults.MaxConcurrencyUpperBound);
        Range(errors, "QueueLimit", options.QueueLimit, 1, SchedulerDefaults.QueueLimitUpperBound);
        if (options.QueueLimit < options.MaxConcurrency && options.QueueLimit >= 1 && options.MaxConcurrency >= 1)
        {
            errors.Add($"{_prefix}:QueueLimit ({options.QueueLimit}) must be at least {_prefix}:MaxConcurrency ({options.MaxConcurrency}); otherwise the concurrency can never be reached.");
        }

        Range(errors, "AttemptTimeout", options.AttemptTimeout, SchedulerDefaults.MinTimeout, SchedulerDefaults.MaxTimeout);
        if (options.Deadline is { } deadline)
        {
            Range(errors, "Deadline", deadline, SchedulerDefaults.MinTimeout, SchedulerDefaults.MaxTimeout);
        }

        Range(errors, "MaxResponseBodySize", options.MaxResponseBodySize, 1, SchedulerDefaults.MaxResponseBodySizeUpperBound);
        Range(errors, "MaxRedirects", options.MaxRedirects, 0, SchedulerDefaults.MaxRedirectsUpperBound);

        if (options.Retry is null)
        {
            errors.Add($"{_prefix}:Retry must not be null.");
        }
        else
        {
            var retry = options.Retry;
            Range(errors, "Retry:MaxRetries", retry.MaxRetries, 0, SchedulerDefaults.MaxRetriesUpperBound);
            Range(errors, "Retry:BaseDelay", retry.BaseDelay, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
            Range(errors, "Retry:MaxDelay", retry.MaxDelay, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
            if (retry.MaxDelay < retry.BaseDelay && retry.MaxDelay >= TimeSpan.Zero)
            {
                errors.Add($"{_prefix}:Retry:MaxDelay ({Format(retry.MaxDelay)}) must be at least {_prefix}:Retry:BaseDelay ({Format(retry.BaseDelay)}).");
            }
        }

        if (options.Retry is { } r)
        {
            Range(errors, "Retry:MaxProxyRetries", r.MaxProxyRetries, 0, SchedulerDefaults.MaxRetriesUpperBound);
        }

        ValidateProxies(errors, options);
        ValidateHostHealth(errors, options.HostHealth);

        if (options.Robots is null)
        {
            errors.Add($"{_prefix}:Robots must not be null.");
        }
        else if (options.Robots.Enabled)
        {
            var robots = options.Robots;
            if (string.IsNullOrWhiteSpace(robots.UserAgent))
            {
                errors.Add($"{_prefix}:Robots:UserAgent must name the user agent whose robots.txt rules apply.");
            }

            Range(errors, "Robots:CacheDuration", robots.CacheDuration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
            Range(errors, "Robots:MaxHosts", robots.MaxHosts, 1, 10_000_000);
            Range(errors, "Robots:UnreachableRetryInterval", robots.UnreachableRetryInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
            Range(errors, "Robots:MaxCrawlDelay", robots.MaxCrawlDelay, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
        }

        if (options.PostProcessing is null)
        {
            errors.Add($"{_prefix}:PostProcessing must not be null.");
        }
        else
        {
            Processing.Internal.PostProcessingDefaults.Validate(options.PostProcessing, $"{_prefix}:PostProcessing:", errors);
        }

        if (options.DefaultHost is null)
        {
            errors.Add($"{_prefix}:DefaultHost must not be null.");
        }
        else
        {
            ValidateHost(errors, "DefaultHost", options.DefaultHost);
        }

        foreach (var (pattern, host) in options.Hosts)
        {
            var key = $"Hosts:{pattern}";
            if (!HostPattern.TryParse(pattern, out _, out var error))
            {
                errors.Add($"{_prefix}:{key} is not a valid host pattern ('{pattern}'): {error}");
            }

            if (host is null)
            {
                errors.Add($"{_prefix}:{key} must not be null.");
                continue;
            }

            ValidateHost(errors, key, host);
        }

        for (var i = 0; i < options.PerHostMetrics.Count; i++)
        {
            if (!HostPattern.TryParse(options.PerHostMetrics[i], out _, out var error))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{_prefix}:PerHostMetrics:{i} is not a valid host pattern ('{options.PerHostMetrics[i]}'): {error}"));
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void ValidateProxies(List<string> errors, ProxySchedulerOptions options)
    {
        var number = 0;
        foreach (var line in options.Proxies)
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"Proxies:{number++}");
            if (!string.IsNullOrWhiteSpace(line) && !line.TrimStart().StartsWith('#') && !Proxies.ProxyEndpoint.TryParse(line, out _))
            {
                // Parse again for the reason; the message carries a redacted copy of the entry, never its credentials.
                try
                {
                    _ = Proxies.ProxyEndpoint.Parse(line);
                }
                catch (FormatException ex)
                {
                    errors.Add($"{_prefix}:{key} is not a valid proxy: {ex.Message}");
                }
            }
        }

        if (options.ProxyPool is not { } pool)
        {
            errors.Add($"{_prefix}:ProxyPool must not be null.");
        }
        else
        {
            if (string.IsNullOrWhiteSpace(pool.Selector))
            {
                errors.Add($"{_prefix}:ProxyPool:Selector must name a proxy selector (PowerOfTwoChoices, RoundRobin, LeastInFlight, Random, or a registered one).");
            }

            Range(errors, "ProxyPool:MaxConcurrencyPerProxy", pool.MaxConcurrencyPerProxy, 1, 100_000);
            Range(errors, "ProxyPool:MinDelayPerProxy", pool.MinDelayPerProxy, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
            Range(errors, "ProxyPool:QuarantineAfter", pool.QuarantineAfter, 1, 1000);
            Range(errors, "ProxyPool:RetireAfter", pool.RetireAfter, 1, 1000);
            Range(errors, "ProxyPool:QuarantineBaseDelay", pool.QuarantineBaseDelay, SchedulerDefaults.MinTimeout, TimeSpan.FromDays(1));
            Range(errors, "ProxyPool:QuarantineMaxDelay", pool.QuarantineMaxDelay, SchedulerDefaults.MinTimeout, TimeSpan.FromDays(7));
            if (pool.QuarantineMaxDelay < pool.QuarantineBaseDelay)
            {
                errors.Add($"{_prefix}:ProxyPool:QuarantineMaxDelay ({Format(pool.QuarantineMaxDelay)}) must be at least {_prefix}:ProxyPool:QuarantineBaseDelay ({Format(pool.QuarantineBaseDelay)}).");
            }

            Range(errors, "ProxyPool:BlockBaseDuration", pool.BlockBaseDuration, SchedulerDefaults.MinTimeout, TimeSpan.FromDays(7));
            Range(errors, "ProxyPool:BlockMaxDuration", pool.BlockMaxDuration, SchedulerDefaults.MinTimeout, TimeSpan.FromDays(30));
            if (pool.BlockMaxDuration < pool.BlockBaseDuration)
            {
                errors.Add($"{_prefix}:ProxyPool:BlockMaxDuration ({Format(pool.BlockMaxDuration)}) must be at least {_prefix}:ProxyPool:BlockBaseDuration ({Format(pool.BlockBaseDuration)}).");
            }

            Range(errors, "ProxyPool:HealthHalfLife", pool.HealthHalfLife, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
            RangeShare(errors, "ProxyPool:OutageThreshold", pool.OutageThreshold);
            RangeShare(errors, "ProxyPool:MaxGroupShare", pool.MaxGroupShare);
            Range(errors, "ProxyPool:OutageMinProxies", pool.OutageMinProxies, 1, 1_000_000);
            Range(errors, "ProxyPool:MaxProxies", pool.MaxProxies, 1, 10_000_000);
            Range(errors, "ProxyPool:MaxHostHealthEntries", pool.MaxHostHealthEntries, 16, 100_000_000);
            if (pool.MaxWaitForProxy != Timeout.InfiniteTimeSpan)
            {
                Range(errors, "ProxyPool:MaxWaitForProxy", pool.MaxWaitForProxy, TimeSpan.FromMilliseconds(1), SchedulerDefaults.MaxTimeout);
            }

            if (!Enum.IsDefined(pool.WhenUnavailable))
            {
                errors.Add($"{_prefix}:ProxyPool:WhenUnavailable must be Wait or FailFast; it was {pool.WhenUnavailable}.");
            }
        }

        if (options.Sessions is not { } sessions)
        {
            errors.Add($"{_prefix}:Sessions must not be null.");
        }
        else
        {
            Range(errors, "Sessions:IdleTimeout", sessions.IdleTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
            Range(errors, "Sessions:Lifetime", sessions.Lifetime, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
            Range(errors, "Sessions:MaxUses", sessions.MaxUses, 0, int.MaxValue);
            Range(errors, "Sessions:MinDelay", sessions.MinDelay, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
            Range(errors, "Sessions:MaxSessions", sessions.MaxSessions, 1, 10_000_000);
            if (!Enum.IsDefined(sessions.WhenBindingLost))
            {
                errors.Add($"{_prefix}:Sessions:WhenBindingLost must be Rebind or Fail; it was {sessions.WhenBindingLost}.");
            }

            if (!Enum.IsDefined(sessions.DefaultRotation))
            {
                errors.Add($"{_prefix}:Sessions:DefaultRotation must be PerRequest, Sticky or Fixed; it was {sessions.DefaultRotation}.");
            }
        }

        if (options.Classification is not { } classification)
        {
            errors.Add($"{_prefix}:Classification must not be null.");
        }
        else
        {
            if (string.IsNullOrWhiteSpace(classification.Classifier))
            {
                errors.Add($"{_prefix}:Classification:Classifier must name a response classifier (Default, or a registered one).");
            }

            Range(errors, "Classification:MarkerScanBytes", classification.MarkerScanBytes, 1, Classification.Internal.ClassificationDefaults.MarkerScanBytesUpperBound);
            foreach (var code in classification.BlockStatusCodes)
            {
                Range(errors, "Classification:BlockStatusCodes", code, 100, 599);
            }
        }
    }

    private void ValidateHostHealth(List<string> errors, HostHealthOptions? health)
    {
        if (health is null)
        {
            errors.Add($"{_prefix}:HostHealth must not be null.");
            return;
        }

        Range(errors, "HostHealth:FailureThreshold", health.FailureThreshold, 0, 1000);
        Range(errors, "HostHealth:BreakDuration", health.BreakDuration, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1));
        Range(errors, "HostHealth:MaxBreakDuration", health.MaxBreakDuration, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1));
        if (health.MaxBreakDuration < health.BreakDuration)
        {
            errors.Add($"{_prefix}:HostHealth:MaxBreakDuration ({Format(health.MaxBreakDuration)}) must be at least {_prefix}:HostHealth:BreakDuration ({Format(health.BreakDuration)}).");
        }

        if (health.MaxWait != Timeout.InfiniteTimeSpan)
        {
            Range(errors, "HostHealth:MaxWait", health.MaxWait, TimeSpan.FromMilliseconds(1), SchedulerDefaults.MaxTimeout);
        }
    }

    private void RangeShare(List<string> errors, string key, double value)
    {
        if (!(value >= 0.01 && value <= 1.0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{key} must be between 0.01 and 1; it was {value}."));
        }
    }

    private void ValidateHost(List<string> errors, string key, HostOptions host)
    {
        if (host.MaxConcurrency is { } max)
        {
            Range(errors, key + ":MaxConcurrency", max, 1, SchedulerDefaults.MaxConcurrencyUpperBound);
        }

        if (host.MinDelay is { } delay)
        {
            Range(errors, key + ":MinDelay", delay, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
        }

        if (host.MaxJitter is { } jitter)
        {
            Range(errors, key + ":MaxJitter", jitter, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
        }

        if (host.RateLimit is { } rate && !(rate >= 0.001 && rate <= SchedulerDefaults.RateLimitUpperBound))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{key}:RateLimit must be between 0.001 and {SchedulerDefaults.RateLimitUpperBound}; it was {rate}."));
        }

        if (host.RateLimitPeriod is { } period)
        {
            Range(errors, key + ":RateLimitPeriod", period, SchedulerDefaults.MinTimeout, SchedulerDefaults.MaxDelay);
        }

        if (host.RateLimitBurst is { } burst)
        {
            Range(errors, key + ":RateLimitBurst", burst, 1, SchedulerDefaults.RateLimitBurstUpperBound);
        }

        if (host.MaxRetryAfter is { } maxRetryAfter)
        {
            Range(errors, key + ":MaxRetryAfter", maxRetryAfter, TimeSpan.Zero, SchedulerDefaults.MaxDelay);
        }
    }

    private void Range(List<string> errors, string key, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{key} must be between {min} and {max}; it was {value}."));
        }
    }

    private void Range(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{_prefix}:{key} must be between {Format(min)} and {Format(max)}; it was {Format(value)}.");
        }
    }

    private static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}
