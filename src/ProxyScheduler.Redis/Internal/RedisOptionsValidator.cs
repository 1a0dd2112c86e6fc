using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace ProxyScheduler.Redis.Internal;

/// <summary>Checks what the attributes cannot: the connection string parses; the renewal fits the TTL. Errors name the key; passwords never appear.</summary>
internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        var errors = new List<string>();
        foreach (var property in typeof(RedisOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(options);
            var key = $"ProxyScheduler:Redis:{property.Name}";
            if (property.GetCustomAttribute<RequiredAttribute>() is not null && (value is null || value is string { Length: 0 }))
            {
                errors.Add($"{key} must be set.");
            }
            else if (property.GetCustomAttribute<RangeAttribute>() is { } range && value is not null && !range.IsValid(value))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key} must be between {range.Minimum} and {range.Maximum}; it was {value}."));
            }
            else if (property.GetCustomAttribute<RegularExpressionAttribute>() is { } pattern && value is string text && !pattern.IsValid(text))
            {
                errors.Add($"{key} may hold only letters, digits and : _ - . {{ }} (1 to 100 of them); it was '{text}'.");
            }
        }

        if (!Enum.IsDefined(options.WhenUnavailable))
        {
            errors.Add($"ProxyScheduler:Redis:WhenUnavailable must be Pause or FallbackToLocal; it was {options.WhenUnavailable}.");
        }

        if (!string.IsNullOrWhiteSpace(options.Configuration))
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(options.Configuration);
            }
            catch (ArgumentException ex)
            {
                // The parser's message names the option it could not read, never its value.
                errors.Add($"ProxyScheduler:Redis:Configuration is not a valid StackExchange.Redis configuration string: {ex.Message.Split('\n')[0]}");
            }
        }

        if (options.ShareLinger >= options.LeaseTtl)
        {
            errors.Add($"ProxyScheduler:Redis:ShareLinger ({options.ShareLinger}) must be shorter than ProxyScheduler:Redis:LeaseTtl ({options.LeaseTtl}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
