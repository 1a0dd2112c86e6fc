namespace ProxyScheduler.Dispatch;

/// <summary>A waiter that someone awaits (retries, redirects, single requests).</summary>
internal sealed class AsyncWaiter : Waiter
{
    private readonly TaskCompletionSource<AttemptPermit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AsyncWaiter(Dispatcher owner) => Owner = owner;

    public Dispatcher Owner { get; }

    public Task<AttemptPermit> Task => _completion.Task;

    public override void OnGranted(AttemptPermit lease) => _completion.TrySetResult(lease);

    public override void OnCanceled(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);

    public override void OnFailed(Exception failure) => _completion.TrySetException(failure);

    public override void OnDisposed() => _completion.TrySetException(new ObjectDisposedException(nameof(IRequestScheduler)));
}
