namespace ProxyScheduler;

/// <summary>
/// How one request of a batch ended: a <see cref="Response"/>, or an <see cref="Exception"/> (a
/// <see cref="RequestFailedException"/>, an <see cref="OperationCanceledException"/>, or an
/// <see cref="ArgumentException"/> for an invalid item). Exactly one of the two is set.
/// </summary>
public sealed class RequestOutcome
{
    internal RequestOutcome(ScheduledRequest? request, ScheduledResponse? response, Exception? exception)
    {
        Request = request;
        Response = response;
        Exception = exception;
    }

    /// <summary>Gets the request; <see langword="null"/> only when the batch's source yielded a null item.</summary>
    public ScheduledRequest? Request { get; }

    /// <summary>Gets the response, when the request produced one.</summary>
    public ScheduledResponse? Response { get; }

    /// <summary>Gets the failure, when the request produced no response.</summary>
    public Exception? Exception { get; }

    /// <summary>Gets a value indicating whether the request produced a response (of any status code).</summary>
    public bool HasResponse => Response is not null;

    /// <summary>Gets a value indicating whether the request was canceled.</summary>
    public bool IsCanceled => Exception is OperationCanceledException;

    /// <summary>Gets or sets the request's position in its batch's source.</summary>
    internal long Index { get; set; }

    /// <summary>Gets or sets a value indicating whether the request's first attempt was granted (so it took a slot of its batch's gate, if any).</summary>
    internal bool Dispatched { get; set; }

    /// <summary>Describes the outcome without secrets.</summary>
    /// <returns>The response's or the failure's description.</returns>
    public override string ToString() => Response is not null
        ? Response.ToString()
        : $"{Request?.ToString() ?? "(null request)"}: {Exception?.GetType().Name}";
}
