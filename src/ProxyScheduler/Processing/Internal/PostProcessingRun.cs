using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Scheduling.Internal;

namespace ProxyScheduler.Processing.Internal;

/// <summary>
/// One run of a <see cref="PostProcessingPipeline{TResult}"/>: one enumeration of <c>ProcessAllAsync</c> (a new run
/// for each enumeration).
/// </summary>
/// <remarks>
/// <para>
/// A <see cref="BatchRun"/> sends the requests with a <see cref="ProcessingGate"/> of <c>Capacity</c> slots: a request's
/// first attempt is granted only with a free slot, so the responses the run holds (in flight, waiting, being
/// processed, waiting for the consumer) never exceed the capacity, and when they are all taken the scheduler stops
/// dispatching the run's requests while everyone else's go on. Bodies are read into buffers rented from the
/// pipeline's pool.
/// </para>
/// <para>
/// A feeder task takes the batch's outcomes: responses go into a bounded channel read by <c>MaxDegreeOfParallelism</c>
/// dedicated worker threads (CPU-bound processors neither starve nor wait for the thread pool, which keeps serving the
/// I/O); fetch failures go straight to the output. A worker runs the whole chain, gives the body back, and writes the
/// item to the output channel. In completion order the consumer gives the slot back as it takes the item; in input
/// order the worker gives it back at once (an item waiting for an earlier one must not hold a slot that earlier item
/// needs), and the batch's window of <c>ReorderWindow</c> bounds the items read but not yet yielded.
/// </para>
/// </remarks>
internal sealed class PostProcessingRun<TResult>
{
    private readonly SchedulerCore _scheduler;
    private readonly ProcessingChain<TResult> _chain;
    private readonly PostProcessingSettings _settings;
    private readonly IServiceScopeFactory? _scopes;
    private readonly ArrayPool<byte> _bodies;
    private readonly Channel<RequestOutcome> _input;
    private readonly Channel<ProcessedResult<TResult>> _output;
    private readonly TaskCompletionSource _workersDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ProcessingGate _gate = null!;
    private CancellationToken _token;
    private int _workersLeft;
    private Exception? _fault;

    public PostProcessingRun(SchedulerCore scheduler, ProcessingChain<TResult> chain, PostProcessingSettings settings, IServiceScopeFactory? scopes, ArrayPool<byte> bodies)
    {
        _scheduler = scheduler;
        _chain = chain;
        _settings = settings;
        _scopes = scopes;
        _bodies = bodies;

        // Neither channel ever needs more room than this: every response holds a gate slot until it is processed.
        _input = Channel.CreateBounded<RequestOutcome>(new BoundedChannelOptions(settings.Capacity) { SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        _output = Channel.CreateBounded<ProcessedResult<TResult>>(new BoundedChannelOptions(settings.Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public async IAsyncEnumerable<ProcessedResult<TResult>> RunAsync(IAsyncEnumerable<ScheduledRequest> source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _token = cts.Token;
        _gate = _scheduler.Dispatcher.Gates.Open(_settings.Capacity);
        var ordered = _settings.PreserveInputOrder;
        var batch = new BatchRun(_scheduler, source, ordered ? _settings.ReorderWindow : _scheduler.QueueLimit, releaseWindowOnRead: !ordered, _gate, _bodies);
        StartWorkers();
        var ended = RunStagesAsync(batch);
        try
        {
            if (!ordered)
            {
                // Slots go back in small groups (all of them before the consumer waits), so that a full run dispatches
                // requests in bursts instead of waking the I/O side once per item.
                var reader = _output.Reader;
                var group = Math.Max(1, _settings.Capacity / 8);
                var taken = 0;
                while (true)
                {
                    while (reader.TryRead(out var item))
                    {
                        if (item.HoldsSlot)
                        {
                            item.HoldsSlot = false;
                            if (++taken >= group)
                            {
                                _scheduler.Dispatcher.Gates.Release(_gate, taken);
                                taken = 0;
                            }
                        }

                        yield return item;
                    }

                    if (taken > 0)
                    {
                        _scheduler.Dispatcher.Gates.Release(_gate, taken);
                        taken = 0;
                    }

                    if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }
                }
            }
            else
            {
                var waiting = new Dictionary<long, ProcessedResult<TResult>>();
                var next = 0L;
                await foreach (var item in _output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    waiting.Add(item.Index, item);
                    while (waiting.Remove(next, out var ready))
                    {
                        next++;
                        batch.ReleaseWindow();
                        yield return ready;
                    }
                }
            }
        }
        finally
        {
            // Done, canceled or abandoned: stop everything, and return only when every request has ended and every
            // processor has returned, so that nothing of the run is left behind.
            await cts.CancelAsync().ConfigureAwait(false);
            await ended.ConfigureAwait(false);
            _scheduler.Dispatcher.Gates.Close(_gate);
        }

        if (_fault is not null)
        {
            ExceptionDispatchInfo.Throw(_fault);
        }
    }

    /// <summary>Feeds the workers until the batch ends, then waits for the workers, then ends the output.</summary>
    private async Task RunStagesAsync(BatchRun batch)
    {
        await FeedAsync(batch).ConfigureAwait(false);
        await _workersDone.Task.ConfigureAwait(false);
        _output.Writer.TryComplete();
    }

#pragma warning disable CA1031 // A failure of the source ends the run and is rethrown to the consumer.
    private async Task FeedAsync(BatchRun batch)
    {
        try
        {
            await foreach (var outcome in batch.RunAsync(_token).ConfigureAwait(false))
            {
                if (outcome.Response is not null)
                {
                    _scheduler.AddProcessingBacklog(1);
                    if (!_input.Writer.TryWrite(outcome))
                    {
                        await _input.Writer.WriteAsync(outcome, _token).ConfigureAwait(false);
                    }

                    continue;
                }

                var failed = new ProcessedResult<TResult>(outcome.Index, outcome.Request, null, ProcessedResultStatus.FetchFailed, default, outcome.Exception, null);
                HandOver(failed, outcome.Dispatched);
                if (!_output.Writer.TryWrite(failed))
                {
                    await _output.Writer.WriteAsync(failed, _token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_token.IsCancellationRequested)
        {
            // Canceled or abandoned: the batch has ended every request of its own.
        }
        catch (Exception ex)
        {
            // The source threw (the batch rethrows it once every request has ended).
            _fault = ex;
        }
        finally
        {
            _input.Writer.TryComplete();
        }
    }
#pragma warning restore CA1031

    /// <summary>Decides who gives back the slot of an item that took one: the consumer (completion order) or nobody later (input order: now).</summary>
    private void HandOver(ProcessedResult<TResult> item, bool holdsSlot)
    {
        if (!holdsSlot)
        {
            return;
        }

        if (_settings.PreserveInputOrder)
        {
            _scheduler.Dispatcher.Gates.Release(_gate);
        }
        else
        {
            item.HoldsSlot = true;
        }
    }

    private void StartWorkers()
    {
        _workersLeft = _settings.MaxDegreeOfParallelism;
        for (var i = 0; i < _settings.MaxDegreeOfParallelism; i++)
        {
            var thread = new Thread(static state => ((PostProcessingRun<TResult>)state!).Work())
            {
                IsBackground = true,
                Name = "ProxyScheduler post-processing",
            };
            thread.Start(this);
        }
    }

#pragma warning disable CA1031 // A worker never lets an exception escape its thread: that would end the process.
    private void Work()
    {
        var context = new StepContext();
        var reader = _input.Reader;
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var outcome))
                {
                    var more = reader.WaitToReadAsync(CancellationToken.None);
                    if (!(more.IsCompletedSuccessfully ? more.Result : more.AsTask().GetAwaiter().GetResult()))
                    {
                        break;
                    }

                    continue;
                }

                _scheduler.AddProcessingBacklog(-1);
                if (_token.IsCancellationRequested)
                {
                    // The run is over: give the body back unprocessed.
                    outcome.Response!.ReleaseBody();
                    continue;
                }

                if (Process(outcome, context) is { } item)
                {
                    Emit(item);
                }
            }
        }
        catch (Exception ex)
        {
            _fault ??= ex;
        }
        finally
        {
            if (Interlocked.Decrement(ref _workersLeft) == 0)
            {
                _workersDone.TrySetResult();
            }
        }
    }

    /// <summary>Runs the chain on one response, on this worker's thread; <see langword="null"/> when the run was canceled meanwhile.</summary>
    private ProcessedResult<TResult>? Process(RequestOutcome outcome, StepContext context)
    {
        var response = outcome.Response!;
        ProcessedResult<TResult>? item = null;
        AsyncServiceScope scope = default;
        var scoped = _chain.UsesScope;
        var started = 0L;
        try
        {
            context.Step = 0;
            if (scoped)
            {
                scope = _scopes!.CreateAsyncScope();
                context.Services = scope.ServiceProvider;
            }

            started = _scheduler.Time.GetTimestamp();
            var pending = _chain.RunAsync(response, context, _token);
            var value = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            item = new ProcessedResult<TResult>(outcome.Index, outcome.Request, response, ProcessedResultStatus.Succeeded, value, null, null);
        }
        catch (OperationCanceledException) when (_token.IsCancellationRequested)
        {
            // Canceled with the run: the item is not reported.
        }
        catch (Exception ex)
        {
            item = new ProcessedResult<TResult>(outcome.Index, outcome.Request, response, ProcessedResultStatus.ProcessingFailed, default, ex, context.Step);
        }
        finally
        {
            if (scoped)
            {
                context.Services = null;
                try
                {
                    scope.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
                catch (Exception ex) when (item is not null)
                {
                    // The item's services failed to end: the item did not end cleanly either.
                    item = new ProcessedResult<TResult>(outcome.Index, outcome.Request, response, ProcessedResultStatus.ProcessingFailed, default, ex, context.Step);
                }
            }

            response.ReleaseBody();
        }

        if (item is not null && started != 0)
        {
            _scheduler.RecordProcessing(_scheduler.Time.GetElapsedTime(started), item.Succeeded ? "succeeded" : "failed");
        }

        if (item is not null)
        {
            // (Canceled, the item keeps its slot: the run is ending, and its gate closes with it.)
            HandOver(item, holdsSlot: true);
        }

        return item;
    }

    private void Emit(ProcessedResult<TResult> item)
    {
        if (_output.Writer.TryWrite(item))
        {
            return;
        }

        try
        {
            // The consumer is behind: this worker waits, holding its item's slot, so the run stops dispatching.
            _output.Writer.WriteAsync(item, _token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_token.IsCancellationRequested)
        {
            // The run is over; nobody will read the item.
        }
    }
#pragma warning restore CA1031
}
