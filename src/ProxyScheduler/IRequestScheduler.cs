namespace ProxyScheduler;

#pragma warning disable RS0026 // Both SendAllAsync overloads take an optional token, as the BCL streaming APIs do.

/// <summary>
/// Sends HTTP requests concurrently while keeping every target host at or under its own limits and the whole
/// scheduler under its global limit, without letting one busy host hold up the others.
/// </summary>
public interface IRequestScheduler
{
    /// <summary>Queues one request, waits for its turn, sends it (with retries and redirects) and buffers the response.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the request: a queued request leaves its queue at once, an in-flight one is aborted.</param>
    /// <returns>The response, whatever its status code.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request is invalid (for example it carries a <c>Proxy-Authorization</c> header).</exception>
    /// <exception cref="RequestFailedException">The request ended without a usable response.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    Task<ScheduledResponse> SendAsync(ScheduledRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a stream of requests and yields their outcomes in completion order. The source is read only as the
    /// scheduler has room (<see cref="ProxySchedulerOptions.QueueLimit"/>), so its length does not change the memory used.
    /// A failed request is an outcome, not an exception that ends the batch.
    /// </summary>
    /// <param name="requests">The requests.</param>
    /// <param name="cancellationToken">Cancels the batch: queued and in-flight requests of the batch are canceled.</param>
    /// <returns>The outcomes, in completion order.</returns>
    IAsyncEnumerable<RequestOutcome> SendAllAsync(IAsyncEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default);

    /// <inheritdoc cref="SendAllAsync(IAsyncEnumerable{ScheduledRequest}, CancellationToken)"/>
    IAsyncEnumerable<RequestOutcome> SendAllAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default);

    /// <summary>Returns the queued and in-flight counts, globally and per host.</summary>
    /// <returns>A consistent snapshot.</returns>
    SchedulerSnapshot GetSnapshot();
}
#pragma warning restore RS0026
