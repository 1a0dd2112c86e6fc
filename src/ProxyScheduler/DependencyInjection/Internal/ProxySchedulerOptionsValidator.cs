using System.Globalization;
using Microsoft.Extensions.Options;
using ProxyScheduler.Scheduling.Internal;

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

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
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
