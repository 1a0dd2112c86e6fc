using System.Buffers;

namespace ProxyScheduler.Execution;

/// <summary>
/// Where a request run by a batch hands its outcome instead of returning or throwing it (a <c>SendAllAsync</c> item).
/// The executor calls <see cref="Complete"/> once, after every permit of the request is free.
/// </summary>
internal interface IOutcomeSink
{
    /// <summary>Gets the pool the response body is rented from, if any (post-processing keeps bodies in rented buffers).</summary>
    ArrayPool<byte>? BodyPool { get; }

    /// <summary>Hands over the request's outcome.</summary>
    void Complete(RequestOutcome outcome);
}
