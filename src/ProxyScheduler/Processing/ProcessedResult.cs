using System.Diagnostics.CodeAnalysis;

namespace ProxyScheduler.Processing;

/// <summary>
/// One item of a post-processing run: the request, the response's metadata, and either the result or the failure,
/// with <see cref="Status"/> telling a fetch failure from a processing failure.
/// </summary>
/// <typeparam name="TResult">The result of the chain of processors.</typeparam>
public sealed class ProcessedResult<TResult>
{
    internal ProcessedResult(long index, ScheduledRequest? request, ScheduledResponse? response, ProcessedResultStatus status, TResult? value, Exception? exception, int? failedStep)
    {
        Index = index;
        Request = request;
        Response = response;
        Status = status;
        Value = value;
        Exception = exception;
        FailedStep = failedStep;
    }

    /// <summary>Gets the request's position in the run's source, from 0.</summary>
    public long Index { get; }

    /// <summary>Gets the request; <see langword="null"/> only when the source yielded a null item.</summary>
    public ScheduledRequest? Request { get; }

    /// <summary>
    /// Gets the response when the request produced one: status, headers, timings, proxy. Its
    /// <see cref="ScheduledResponse.Body"/> was given back to the pool after processing and can no longer be read
    /// (<see cref="ScheduledResponse.BodyLength"/> still tells its size).
    /// </summary>
    public ScheduledResponse? Response { get; }

    /// <summary>Gets how the item ended.</summary>
    public ProcessedResultStatus Status { get; }

    /// <summary>Gets a value indicating whether every processor ran and <see cref="Value"/> is set.</summary>
    [MemberNotNullWhen(false, nameof(Exception))]
    public bool Succeeded => Status == ProcessedResultStatus.Succeeded;

    /// <summary>Gets the result of the last processor; the default value unless <see cref="Succeeded"/>.</summary>
    public TResult? Value { get; }

    /// <summary>
    /// Gets the failure: for <see cref="ProcessedResultStatus.FetchFailed"/> the request's (a
    /// <see cref="RequestFailedException"/>, or an <see cref="ArgumentException"/> for an invalid request), for
    /// <see cref="ProcessedResultStatus.ProcessingFailed"/> what the processor threw.
    /// </summary>
    public Exception? Exception { get; }

    /// <summary>Gets the position in the chain (from 0) of the processor that threw, for <see cref="ProcessedResultStatus.ProcessingFailed"/>.</summary>
    public int? FailedStep { get; }

    /// <summary>Gets or sets a value indicating whether the item still holds a slot of its run's gate, which the consumer gives back.</summary>
    internal bool HoldsSlot { get; set; }

    /// <summary>Describes the item without secrets.</summary>
    /// <returns>The position, the status and the response or the failure's type.</returns>
    public override string ToString() => Status switch
    {
        ProcessedResultStatus.Succeeded => $"#{Index} {Response}: processed",
        ProcessedResultStatus.ProcessingFailed => $"#{Index} {Response}: step {FailedStep} failed with {Exception?.GetType().Name}",
        _ => $"#{Index} {Request?.ToString() ?? "(null request)"}: fetch failed with {Exception?.GetType().Name}",
    };
}
