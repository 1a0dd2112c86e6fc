namespace ProxyScheduler.Classification.Internal;

/// <summary>Defaults and bounds of <see cref="ClassificationOptions"/>.</summary>
internal static class ClassificationDefaults
{
    public const int MarkerScanBytes = 64 * 1024;
    public const int MarkerScanBytesUpperBound = 16 * 1024 * 1024;
}
