namespace ProxyScheduler.Transport.Internal;

/// <summary>An attempt ran out of its attempt timeout (not the caller's cancellation, not the deadline).</summary>
internal sealed class AttemptTimeoutException : TimeoutException
{
    public AttemptTimeoutException(TimeSpan timeout, Exception? inner)
        : base($"The attempt did not complete within its timeout of {timeout.TotalSeconds:0.###} s.", inner)
    {
    }
}
