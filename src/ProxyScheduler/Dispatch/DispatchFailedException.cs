namespace ProxyScheduler.Dispatch;

/// <summary>The dispatcher could not serve a waiter: no proxy for it, or its deadline passed while it waited. Translated into a <see cref="RequestFailedException"/>.</summary>
internal sealed class DispatchFailedException : Exception
{
    public DispatchFailedException(RequestFailureReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    public RequestFailureReason Reason { get; }
}
