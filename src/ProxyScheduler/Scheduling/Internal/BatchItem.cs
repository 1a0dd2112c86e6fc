using ProxyScheduler.Dispatch;
using ProxyScheduler.Execution;


namespace ProxyScheduler.Scheduling.Internal;

/// <summary>One request of a <see cref="BatchRun"/>, queued lightly until its first attempt is granted.</summary>
internal sealed class BatchItem : DeferredWaiter, IOutcomeSink
{
    public BatchItem(BatchRun batch, ScheduledRequest request, long index)
    {
        Batch = batch;
        Request = request;
        Index = index;
        Gate = batch.Gate;
    }

    public BatchRun Batch { get; }

    /// <inheritdoc/>
    public System.Buffers.ArrayPool<byte>? BodyPool => Batch.BodyPool;

    public ScheduledRequest Request { get; }

    /// <summary>Gets the request's position in the batch's source.</summary>
    public long Index { get; }

    public override object? Group => Batch;

    public override void Execute()
    {
        if (Failure is { } failure)
        {
            Batch.CompleteFailed(this, failure);
            return;
        }

        Batch.RunItem(this);
    }

    /// <summary>Hands over the outcome of the request, which ran after its first attempt was granted.</summary>
    public void Complete(RequestOutcome outcome)
    {
        outcome.Index = Index;
        outcome.Dispatched = true;
        Batch.Complete(outcome);
    }

    public override void OnCanceled(CancellationToken cancellationToken) => Batch.CompleteCanceled(this, cancellationToken);

    public override void OnDisposed() => Batch.CompleteDisposed(Request, Index);
}
