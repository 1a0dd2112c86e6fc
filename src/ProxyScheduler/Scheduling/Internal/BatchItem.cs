namespace ProxyScheduler.Scheduling.Internal;

/// <summary>One request of a <see cref="BatchRun"/>, queued lightly until its first attempt is granted.</summary>
internal sealed class BatchItem : DeferredWaiter
{
    public BatchItem(BatchRun batch, ScheduledRequest request)
    {
        Batch = batch;
        Request = request;
    }

    public BatchRun Batch { get; }

    public ScheduledRequest Request { get; }

    public override object? Group => Batch;

    public override void Execute()
    {
        if (Failure is { } failure)
        {
            Batch.CompleteFailed(Request, failure);
            return;
        }

        Batch.RunItem(this);
    }

    public override void OnCanceled(CancellationToken cancellationToken) => Batch.CompleteCanceled(Request, cancellationToken);

    public override void OnDisposed() => Batch.CompleteDisposed(Request);
}
