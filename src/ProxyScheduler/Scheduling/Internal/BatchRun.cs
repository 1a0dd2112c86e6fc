using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ProxyScheduler.Diagnostics.Internal;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Execution;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// One <c>SendAllAsync</c> call. A pump reads the source only after it holds a window slot (outcomes not yet taken
/// by the consumer) and an admission slot of the scheduler, so neither the scheduler's queue nor the outcome buffer
/// grows with the source. Each request waits in its host queue as a light <see cref="BatchItem"/> and starts its
/// execution only when its first attempt is granted. Outcomes are yielded in completion order; a failure is an outcome,
/// not an exception that ends the batch.
/// </summary>
/// <remarks>
/// A post-processing run sets three more things: a <see cref="Gate"/> (the dispatcher grants the batch's requests only
/// while it has a free slot), a <see cref="BodyPool"/> (bodies stay in rented buffers), and a window it releases itself
/// (<see cref="ReleaseWindow"/>), for input order.
/// </remarks>
#pragma warning disable CA1001 // The window is disposed when the run ends, in RunAsync.
internal sealed class BatchRun
#pragma warning restore CA1001
{
    private readonly SchedulerCore _scheduler;
    private readonly IAsyncEnumerable<ScheduledRequest> _source;
    private readonly Channel<RequestOutcome> _outcomes = Channel.CreateUnbounded<RequestOutcome>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly SemaphoreSlim _window;
    private readonly TaskCompletionSource _allEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _sourceError;
    private CancellationToken _callerToken;
    private CancellationToken _batchToken;
    private readonly int _refillThreshold;
    private readonly bool _releaseWindowOnRead;
    private int _outstanding = 1; // the pump itself
    private int _admitted;
    private long _nextIndex;
    private TaskCompletionSource? _refill;

    public BatchRun(SchedulerCore scheduler, IAsyncEnumerable<ScheduledRequest> source)
        : this(scheduler, source, scheduler.QueueLimit, releaseWindowOnRead: true, gate: null, bodyPool: null)
    {
    }

    /// <param name="scheduler">The scheduler.</param>
    /// <param name="source">The requests.</param>
    /// <param name="window">The most requests read from the source whose outcomes are not yet released.</param>
    /// <param name="releaseWindowOnRead">Whether reading an outcome releases its window slot; otherwise the caller calls <see cref="ReleaseWindow"/>.</param>
    /// <param name="gate">The gate whose slot each request needs before its first attempt is granted.</param>
    /// <param name="bodyPool">The pool response bodies are rented from.</param>
    public BatchRun(SchedulerCore scheduler, IAsyncEnumerable<ScheduledRequest> source, int window, bool releaseWindowOnRead, ProcessingGate? gate, System.Buffers.ArrayPool<byte>? bodyPool)
    {
        _scheduler = scheduler;
        _source = source;
        _window = new SemaphoreSlim(window, window);
        _releaseWindowOnRead = releaseWindowOnRead;
        Gate = gate;
        BodyPool = bodyPool;

        // When the batch fills the scheduler, the pump sleeps until a step of slots is free and then refills in one
        // go, instead of waking once per completed request.
        _refillThreshold = scheduler.QueueLimit - Math.Clamp(scheduler.QueueLimit / 8, 1, 1024);
    }

    /// <summary>Gets the gate of the batch's requests, if any.</summary>
    public ProcessingGate? Gate { get; }

    /// <summary>Gets the pool response bodies are rented from, if any.</summary>
    public System.Buffers.ArrayPool<byte>? BodyPool { get; }

    /// <summary>Gives back the window slot of one outcome (when the window is not released on read).</summary>
    public void ReleaseWindow() => _window.Release();

    public async IAsyncEnumerable<RequestOutcome> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _scheduler.DisposalToken);
        _callerToken = cancellationToken;
        _batchToken = cts.Token;
        var removeQueued = cts.Token.UnsafeRegister(static (state, token) => ((BatchRun)state!).CancelQueued(token), this);
        _ = PumpAsync(cts.Token);
        try
        {
            await foreach (var outcome in _outcomes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_releaseWindowOnRead)
                {
                    _window.Release();
                }

                yield return outcome;
            }
        }
        finally
        {
            // Stopped early, canceled or done: end every request of the batch, and return only when all have
            // ended, so their slots are free when the enumeration is over.
            await cts.CancelAsync().ConfigureAwait(false);
            await _allEnded.Task.ConfigureAwait(false);
            await removeQueued.DisposeAsync().ConfigureAwait(false);
            if (_releaseWindowOnRead)
            {
                // Otherwise the caller may still release slots after the run; the semaphore holds no wait handle then.
                _window.Dispose();
            }
        }

        if (_sourceError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_sourceError);
        }
    }

    /// <summary>Runs an item whose first attempt was granted; called on a pool thread. The outcome comes back through <see cref="Complete"/>.</summary>
    public void RunItem(BatchItem item) =>
        _ = _scheduler.Executor.ExecuteAsync(item.Request, item.Lease, item.QueuedAt, item, item.SessionRebindsAtQueue, _callerToken, _batchToken);

    /// <summary>Records the outcome of one admitted request, gives its admission slot back, and ends the batch after the last.</summary>
    public void Complete(RequestOutcome outcome)
    {
        _scheduler.Admission.Release();
        if (Interlocked.Decrement(ref _admitted) <= _refillThreshold && Volatile.Read(ref _refill) is not null)
        {
            Interlocked.Exchange(ref _refill, null)?.TrySetResult();
        }

        _outcomes.Writer.TryWrite(outcome);
        EndOne();
    }

    /// <summary>One request (or the pump) has ended; after the last, the outcomes end and the run may return.</summary>
    private void EndOne()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _outcomes.Writer.TryComplete();
            _allEnded.TrySetResult();
        }
    }

    public void CompleteDisposed(ScheduledRequest request, long index) => Complete(new RequestOutcome(request, null, new RequestFailedException(
        RequestFailureReason.SchedulerDisposed,
        UriRedactor.Redact(request.RequestUri),
        0,
        null,
        $"The scheduler was disposed before the request to {UriRedactor.Redact(request.RequestUri)} started.",
        null)) { Index = index });

    /// <summary>Ends a request that the dispatcher could never serve (no proxy for it, or its deadline passed while it waited).</summary>
    public void CompleteFailed(BatchItem item, Exception failure) =>
        Complete(new RequestOutcome(item.Request, null, FailureTranslator.TranslateDispatchFailure(item.Request, failure)) { Index = item.Index });

    /// <summary>Ends a request that left its queue because the batch ended: canceled by the caller, or the scheduler disposed.</summary>
    public void CompleteCanceled(BatchItem item, CancellationToken cancellationToken)
    {
        if (_scheduler.DisposalToken.IsCancellationRequested && !_callerToken.IsCancellationRequested)
        {
            CompleteDisposed(item.Request, item.Index);
            return;
        }

        Complete(new RequestOutcome(item.Request, null, new OperationCanceledException("The batch was canceled.", null, cancellationToken)) { Index = item.Index });
    }

    private void CancelQueued(CancellationToken cancellationToken) => _scheduler.Dispatcher.CancelGroup(this, cancellationToken);

    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        IAsyncEnumerator<ScheduledRequest>? enumerator = null;
        try
        {
            enumerator = _source.GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                if (!_window.Wait(0, CancellationToken.None))
                {
                    await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    await EnterAdmissionAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _window.Release();
                    throw;
                }

                bool hasNext;
                try
                {
                    hasNext = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch
                {
                    _scheduler.Admission.Release();
                    _window.Release();
                    throw;
                }

                if (!hasNext)
                {
                    _scheduler.Admission.Release();
                    _window.Release();
                    break;
                }

                Interlocked.Increment(ref _outstanding);
                Interlocked.Increment(ref _admitted);
                Submit(enumerator.Current, _nextIndex++, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The batch was canceled or abandoned: stop reading the source.
        }
        catch (Exception ex)
        {
            _sourceError = ex;
        }
        finally
        {
            if (enumerator is not null)
            {
                try
                {
                    await enumerator.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (_sourceError is null)
                {
                    _sourceError = ex;
                }
            }

            EndOne();
        }
    }

    private ValueTask EnterAdmissionAsync(CancellationToken cancellationToken)
    {
        if (_scheduler.Admission.Wait(0, CancellationToken.None))
        {
            return ValueTask.CompletedTask;
        }

        return Volatile.Read(ref _admitted) > _refillThreshold
            ? WaitForRefillThenEnterAsync(cancellationToken)
            : new ValueTask(_scheduler.Admission.WaitAsync(cancellationToken));
    }

    private async ValueTask WaitForRefillThenEnterAsync(CancellationToken cancellationToken)
    {
        var refill = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _refill, refill);
        if (Volatile.Read(ref _admitted) <= _refillThreshold)
        {
            refill.TrySetResult();
        }

        await refill.Task.WaitAsync(cancellationToken).ConfigureAwait(false);

        // Slots may have gone to other callers meanwhile: then wait for one like everyone else.
        if (!_scheduler.Admission.Wait(0, CancellationToken.None))
        {
            await _scheduler.Admission.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Queues one admitted request; an invalid one becomes a failed outcome at once.</summary>
    private void Submit(ScheduledRequest? request, long index, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            Complete(new RequestOutcome(null, null, new ArgumentException("The request source yielded a null request.")) { Index = index });
            return;
        }

        try
        {
            RequestValidator.Validate(request, nameof(request));
            _scheduler.ValidateSessionKey(request, nameof(request));
        }
        catch (ArgumentException ex)
        {
            Complete(new RequestOutcome(request, null, ex) { Index = index });
            return;
        }

        if (_scheduler.Robots?.RulesFor(request) is { } robots)
        {
            if (!robots.IsCompletedSuccessfully)
            {
                // The host's robots.txt is being fetched: the request joins its queue when it is known, and the pump goes on.
                _ = SubmitAfterRobotsAsync(request, index, robots, cancellationToken);
                return;
            }

            if (_scheduler.Robots!.Check(request, robots.Result) is { } refusal)
            {
                Complete(new RequestOutcome(request, null, refusal) { Index = index });
                return;
            }
        }

        Enqueue(request, index, cancellationToken);
    }

    private async Task SubmitAfterRobotsAsync(ScheduledRequest request, long index, Task<Politeness.Internal.RobotsRules> robots, CancellationToken cancellationToken)
    {
        Politeness.Internal.RobotsRules rules;
        try
        {
            rules = await robots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex)
        {
            Complete(new RequestOutcome(request, null, ex) { Index = index });
            return;
        }

        if (_scheduler.Robots!.Check(request, rules) is { } refusal)
        {
            Complete(new RequestOutcome(request, null, refusal) { Index = index });
            return;
        }

        Enqueue(request, index, cancellationToken);
    }

    private void Enqueue(ScheduledRequest request, long index, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            Complete(new RequestOutcome(request, null, new OperationCanceledException(cancellationToken)) { Index = index });
            return;
        }

        try
        {
            _scheduler.EnqueueFirstAttempt(new BatchItem(this, request, index), request);
            if (cancellationToken.IsCancellationRequested)
            {
                // Canceled while it was being queued: the batch's own cancellation may have swept the queues before.
                CancelQueued(cancellationToken);
            }
        }
        catch (ObjectDisposedException)
        {
            CompleteDisposed(request, index);
        }
    }
}
