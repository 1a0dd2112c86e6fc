using Microsoft.Extensions.Options;

namespace ProxyScheduler.Processing.Internal;

/// <summary>Validates the options of each pipeline registered with <c>AddPostProcessor</c>, naming the registration in every error.</summary>
internal sealed class PostProcessingOptionsValidator : IValidateOptions<PostProcessingOptions>
{
    public ValidateOptionsResult Validate(string? name, PostProcessingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        PostProcessingDefaults.Validate(options, string.IsNullOrEmpty(name) ? "PostProcessing:" : $"{name}: ", errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
