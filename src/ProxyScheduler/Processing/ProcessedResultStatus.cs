namespace ProxyScheduler.Processing;

/// <summary>How one item of a post-processing run ended.</summary>
public enum ProcessedResultStatus
{
    /// <summary>The request got a response and every processor of the chain ran: <see cref="ProcessedResult{TResult}.Value"/> is set.</summary>
    Succeeded,

    /// <summary>The request produced no response (a <see cref="RequestFailedException"/>, an invalid request, ...); no processor ran.</summary>
    FetchFailed,

    /// <summary>The request got a response, but a processor threw: <see cref="ProcessedResult{TResult}.FailedStep"/> says which.</summary>
    ProcessingFailed,
}
