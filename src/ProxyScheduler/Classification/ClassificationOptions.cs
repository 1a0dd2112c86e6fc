using System.ComponentModel.DataAnnotations;
using ProxyScheduler.Classification.Internal;

namespace ProxyScheduler.Classification;

/// <summary>Options of response classification: which classifier runs, and what the default one counts as a block.</summary>
public sealed class ClassificationOptions
{
    /// <summary>Gets or sets the name of the <see cref="IResponseClassifier"/> used for hosts that do not name their own.</summary>
    /// <value>The default value is <c>Default</c> (<see cref="DefaultResponseClassifier"/>).</value>
    [Required]
    public string Classifier { get; set; } = DefaultResponseClassifier.DefaultName;

    /// <summary>Gets the status codes the default classifier counts as a block of the proxy by the host.</summary>
    /// <value>The default value is 403.</value>
    public IList<int> BlockStatusCodes { get; } = [403];

    /// <summary>
    /// Gets text markers (case-insensitive, for example <c>captcha</c>) whose presence in the first
    /// <see cref="MarkerScanBytes"/> bytes of a response body makes the default classifier count a block.
    /// </summary>
    /// <value>The default value is empty: no body is scanned.</value>
    public IList<string> BlockMarkers { get; } = [];

    /// <summary>Gets or sets how many bytes at the start of a body are scanned for <see cref="BlockMarkers"/>.</summary>
    /// <value>The default value is 65,536.</value>
    [Range(1, ClassificationDefaults.MarkerScanBytesUpperBound)]
    public int MarkerScanBytes { get; set; } = ClassificationDefaults.MarkerScanBytes;
}
