namespace ProxyScheduler.Transport.Internal;

/// <summary>A response body went past the configured cap; never retried.</summary>
internal sealed class ResponseTooLargeException : Exception
{
    public ResponseTooLargeException(long? declaredLength, long maxSize)
        : base(declaredLength is { } d
            ? $"The response declares {d} bytes, more than MaxResponseBodySize ({maxSize})."
            : $"The response body is longer than MaxResponseBodySize ({maxSize}).")
    {
    }
}
