using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ProxyScheduler.Scheduling.Internal;

/// <summary>
/// One <c>SendAllAsync</c> call. A pump reads the source only after it holds a window slot (outcomes not yet taken
/// by the consumer) and an admission slot of the scheduler, so neither the scheduler's queue nor the outcome buffer
/// grows with the source. Outcomes are yielded in completion order; a failure is an outcome, not an exception.
/// </summary>
#pragma warning disable CA1001 // The window is disposed when the run ends, in RunAsync.
internal sealed class BatchRun
{
    private readonly RequestScheduler _scheduler;
    private readonly IAsyncEnumerable<ScheduledRequest> _source;
    private readonly Channel<RequestOutcome> _outcomes = Channel.CreateUnbounded<RequestOutcome>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _window;
    private readonly TaskCompletionSource _allEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _sourceError;
    private int _outstanding = 1; // the pump itself

    public BatchRun(RequestScheduler scheduler, IAsyncEnumerable<ScheduledRequest> source)
    {
        _scheduler = scheduler;
        _source = source;
        _window = new SemaphoreSlim(scheduler.QueueLimit, scheduler.QueueLimit);
    }

    public async IAsyncEnumerable<RequestOutcome> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = PumpAsync(cts.Token);
        try
        {
            await foreach (var outcome in _outcomes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _window.Release();
                yield return outcome;
            }
        }
        finally
        {
            // Stopped early, canceled or done: end every request of the batch, and return only when all have
            // ended, so their slots are free when the enumeration is over.
            await cts.CancelAsync().ConfigureAwait(false);
            await _allEnded.Task.ConfigureAwait(false);
            _window.Dispose();
        }

        if (_sourceError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_sourceError);
        }
    }

    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        IAsyncEnumerator<ScheduledRequest>? enumerator = null;
        try
        {
            enumerator = _source.GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await _scheduler.WaitForAdmissionAsync(cancellationToken).ConfigureAwait(false);
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
                    _scheduler.ReleaseAdmission();
                    _window.Release();
                    throw;
                }

                if (!hasNext)
                {
                    _scheduler.ReleaseAdmission();
                    _window.Release();
                    break;
                }

                Interlocked.Increment(ref _outstanding);
                _ = RunOneAsync(enumerator.Current, cancellationToken);
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

            OnEnded();
        }
    }

    private async Task RunOneAsync(ScheduledRequest? request, CancellationToken cancellationToken)
    {
        RequestOutcome outcome;
        try
        {
            if (request is null)
            {
                outcome = new RequestOutcome(null, null, new ArgumentException("The request source yielded a null request."));
            }
            else
            {
                RequestValidator.Validate(request, nameof(request));
                var response = await _scheduler.ExecuteAdmittedAsync(request, cancellationToken).ConfigureAwait(false);
                outcome = new RequestOutcome(request, response, null);
            }
        }
#pragma warning disable CA1031 // Every failure of one request is that request's outcome.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome = new RequestOutcome(request, null, ex);
        }
        finally
        {
            _scheduler.ReleaseAdmission();
        }

        _outcomes.Writer.TryWrite(outcome);
        OnEnded();
    }

    private void OnEnded()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _outcomes.Writer.TryComplete();
            _allEnded.TrySetResult();
        }
    }
}
