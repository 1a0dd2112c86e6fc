using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProxyScheduler.Redis.Internal;
using StackExchange.Redis;

namespace ProxyScheduler.Redis;

/// <summary>
/// A work queue shared by the fleet, on a Redis stream with a consumer group: producers add requests, any worker takes
/// them, and an entry is acknowledged only once its outcome is recorded (at-least-once). A worker that dies leaves its
/// entries pending; after <see cref="RedisWorkQueueOptions.ClaimIdle"/> another worker claims them, and past
/// <see cref="RedisWorkQueueOptions.MaxDeliveries"/> deliveries an entry goes to the dead-letter stream. Each entry's
/// outcome is recorded once: a second outcome of the same entry (work done twice around a claim) is counted as a
/// duplicate, not recorded. Stopping every worker and starting them again resumes the queue where it was.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "It is a work queue (a Redis stream), the name users look for; not a .NET collection.")]
public sealed partial class RedisWorkQueue
{
    private const string RecordScript = """
        local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
        redis.call('XACK', KEYS[3], ARGV[3], ARGV[1])
        if added == 1 then
          if ARGV[4] == '1' then
            redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'outcome', ARGV[2])
          end
          redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
        else
          redis.call('HINCRBY', KEYS[4], 'duplicates', 1)
        end
        return added
        """;

    private readonly IRequestScheduler _scheduler;
    private readonly RedisConnection _connection;
    private readonly RedisFleetCoordinator _coordinator;
    private readonly RedisWorkQueueOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKey _stream;
    private readonly RedisKey _outcomes;
    private readonly RedisKey _results;
    private readonly RedisKey _dead;
    private readonly RedisKey _counters;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _processing = new(StringComparer.Ordinal);

    internal RedisWorkQueue(IRequestScheduler scheduler, RedisConnection connection, RedisFleetCoordinator coordinator, IOptions<RedisOptions> redis,
        IOptions<RedisWorkQueueOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _scheduler = scheduler;
        _connection = connection;
        _coordinator = coordinator;
        _options = options.Value;
        _time = time;
        _logger = loggerFactory.CreateLogger("ProxyScheduler.Redis.WorkQueue");
        var prefix = $"{redis.Value.KeyPrefix}queue:{_options.Name}:";
        _stream = prefix + "entries";
        _outcomes = prefix + "outcomes";
        _results = prefix + "results";
        _dead = prefix + "dead";
        _counters = prefix + "counters";
    }

    /// <summary>Gets the entries this worker is processing now (taken, not yet recorded).</summary>
    public int InFlight => _processing.Count;

    /// <summary>Gets the name of this worker in the consumer group.</summary>
    public string Consumer => _coordinator.WorkerId;

    /// <summary>Adds requests to the queue (pipelined); returns their entry ids in order.</summary>
    /// <param name="requests">The requests; their <see cref="ScheduledRequest.State"/> does not travel.</param>
    /// <param name="cancellationToken">Cancels the adding (entries already added stay).</param>
    /// <returns>The entry ids.</returns>
    public async Task<IReadOnlyList<string>> AddAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var db = (await _connection.GetAsync().ConfigureAwait(false)).GetDatabase();
        var ids = new List<string>();
        foreach (var chunk in requests.Chunk(500))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var added = await Task.WhenAll(chunk.Select(r => db.StreamAddAsync(_stream, WorkItemCodec.Encode(r)))).ConfigureAwait(false);
            ids.AddRange(added.Select(id => (string)id!));
        }

        return ids;
    }

    /// <summary>Gets the queue's counts.</summary>
    /// <param name="cancellationToken">Not used by Redis calls; checked before them.</param>
    /// <returns>The counts.</returns>
    public async Task<WorkQueueStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = (await _connection.GetAsync().ConfigureAwait(false)).GetDatabase();
        var length = db.StreamLengthAsync(_stream);
        var counters = db.HashGetAllAsync(_counters);
        var pending = EnsureGroupAsync(db).ContinueWith(_ => db.StreamPendingAsync(_stream, _options.Group), TaskScheduler.Default).Unwrap();
        await Task.WhenAll(length, counters, pending).ConfigureAwait(false);
        var values = (await counters.ConfigureAwait(false)).ToDictionary(e => (string)e.Name!, e => (long)e.Value, StringComparer.Ordinal);
        return new WorkQueueStatus(
            await length.ConfigureAwait(false),
            values.GetValueOrDefault("completed") + values.GetValueOrDefault("dead"),
            (await pending.ConfigureAwait(false)).PendingMessageCount,
            values.GetValueOrDefault("dead"),
            values.GetValueOrDefault("duplicates"));
    }

    /// <summary>
    /// Takes entries and sends them through the scheduler until <paramref name="cancellationToken"/> is canceled:
    /// first this worker's own pending entries (a restart resumes them), then entries idle too long at other workers,
    /// then new ones. Requests in flight when canceled are abandoned unacknowledged (redelivered later).
    /// </summary>
    /// <param name="onOutcome">Called with each outcome after it is recorded (or found recorded already).</param>
    /// <param name="cancellationToken">Stops the worker.</param>
    /// <returns>A task that completes when the worker stopped.</returns>
    public async Task RunAsync(Func<WorkQueueOutcome, ValueTask>? onOutcome, CancellationToken cancellationToken)
    {
        var db = (await _connection.GetAsync().ConfigureAwait(false)).GetDatabase();
        await EnsureGroupAsync(db).ConfigureAwait(false);
        using var slots = new SemaphoreSlim(_options.MaxInFlight, _options.MaxInFlight);
        var running = new List<Task>();
        var nextClaim = 0L;
        var nextHeartbeat = 0L;
        var ownPending = true;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                running.RemoveAll(t => t.IsCompleted);
                if (_time.GetTimestamp() >= nextHeartbeat && !_processing.IsEmpty)
                {
                    // Entries this worker still works on (queued in its scheduler, or in flight) are claimed again by
                    // itself, which resets their idle time: only a dead or hung worker's entries go idle long enough to be claimed.
                    nextHeartbeat = _time.GetTimestamp() + (long)(Math.Max(0.02, _options.ClaimIdle.TotalSeconds / 3) * _time.TimestampFrequency);
                    try
                    {
                        await db.StreamClaimIdsOnlyAsync(_stream, _options.Group, Consumer, 0, [.. _processing.Keys.Select(k => (RedisValue)k)]).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is RedisException or TimeoutException)
                    {
                        Log.ReadFailed(_logger, ex.Message);
                    }
                }

                var free = slots.CurrentCount;
                if (free == 0)
                {
                    await Task.WhenAny(running).WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var batch = new List<(StreamEntry Entry, int Deliveries)>();
                try
                {
                    if (ownPending)
                    {
                        // This consumer's own unacknowledged entries (from before a restart) come first.
                        var own = await db.StreamReadGroupAsync(_stream, _options.Group, Consumer, "0", Math.Min(free, 100)).ConfigureAwait(false);
                        batch.AddRange(own.Where(e => !e.IsNull && e.Values.Length > 0).Select(e => (e, 2)));
                        ownPending = own.Length > 0 && batch.Count > 0;
                    }

                    if (batch.Count == 0 && _time.GetTimestamp() >= nextClaim)
                    {
                        nextClaim = _time.GetTimestamp() + (long)(Math.Max(0.05, _options.ClaimIdle.TotalSeconds / 4) * _time.TimestampFrequency);
                        batch.AddRange(await ClaimAsync(db, free).ConfigureAwait(false));
                    }

                    if (batch.Count == 0)
                    {
                        var fresh = await db.StreamReadGroupAsync(_stream, _options.Group, Consumer, ">", free).ConfigureAwait(false);
                        batch.AddRange(fresh.Select(e => (e, 1)));
                    }
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    Log.ReadFailed(_logger, ex.Message);
                }

                if (batch.Count == 0)
                {
                    // Streams are polled: StackExchange.Redis does not block a connection on XREADGROUP.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                foreach (var (entry, deliveries) in batch)
                {
                    _processing[(string)entry.Id!] = 0;
                    await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                    running.Add(ProcessAsync(db, entry, deliveries, onOutcome, slots, cancellationToken));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task<List<(StreamEntry, int)>> ClaimAsync(IDatabase db, int max)
    {
        var pending = await db.StreamPendingMessagesAsync(_stream, _options.Group, Math.Min(max, 100), RedisValue.Null).ConfigureAwait(false);
        var idle = (long)_options.ClaimIdle.TotalMilliseconds;
        var stale = pending.Where(p => p.ConsumerName != Consumer && p.IdleTimeInMilliseconds >= idle).ToList();
        if (stale.Count == 0)
        {
            return [];
        }

        var claimed = await db.StreamClaimAsync(_stream, _options.Group, Consumer, idle, [.. stale.Select(p => p.MessageId)]).ConfigureAwait(false);
        var deliveries = stale.ToDictionary(p => (string)p.MessageId!, p => p.DeliveryCount + 1, StringComparer.Ordinal);
        Log.Claimed(_logger, claimed.Length, string.Join(",", stale.Select(p => (string)p.ConsumerName!).Distinct()));
        return [.. claimed.Where(e => !e.IsNull).Select(e => (e, deliveries.GetValueOrDefault((string)e.Id!, 2)))];
    }

    private async Task ProcessAsync(IDatabase db, StreamEntry entry, int deliveries, Func<WorkQueueOutcome, ValueTask>? onOutcome, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        var id = (string)entry.Id!;
        try
        {
            ScheduledRequest request;
            try
            {
                request = WorkItemCodec.Decode(entry.Values);
            }
            catch (FormatException ex)
            {
                await RecordAsync(db, id, "deadLettered", null, ex, deliveries, _dead, "dead", onOutcome, null).ConfigureAwait(false);
                return;
            }

            if (deliveries > _options.MaxDeliveries)
            {
                await RecordAsync(db, id, "deadLettered", null, null, deliveries, _dead, "dead", onOutcome, request).ConfigureAwait(false);
                return;
            }

            ScheduledResponse? response = null;
            Exception? failure = null;
            try
            {
                response = await _scheduler.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping: left unacknowledged, so it is delivered again.
                return;
            }
            catch (RequestFailedException ex)
            {
                failure = ex;
            }

            await RecordAsync(db, id, response is null ? "failed" : "response", response, failure, deliveries, _results, "completed", onOutcome, request).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Not recorded, not acknowledged: delivered again after ClaimIdle.
            Log.RecordFailed(_logger, id, ex.Message);
        }
        finally
        {
            _processing.TryRemove(id, out _);
            slots.Release();
        }
    }

    private async Task RecordAsync(IDatabase db, string id, string status, ScheduledResponse? response, Exception? failure, int deliveries, RedisKey target, string counter,
        Func<WorkQueueOutcome, ValueTask>? onOutcome, ScheduledRequest? request)
    {
        var outcome = WorkItemCodec.Outcome(status, response, failure, Consumer, deliveries, _time.GetUtcNow());
        var written = target == _dead || _options.WriteResults ? "1" : "0";
        var recorded = (long)await db.ScriptEvaluateAsync(RecordScript, [_outcomes, target, _stream, _counters], [id, outcome, _options.Group, written, counter]).ConfigureAwait(false) == 1;
        if (onOutcome is not null)
        {
            await onOutcome(new WorkQueueOutcome(id, request, response, failure, deliveries, recorded)).ConfigureAwait(false);
        }
    }

    private async Task EnsureGroupAsync(IDatabase db)
    {
        try
        {
            await db.StreamCreateConsumerGroupAsync(_stream, _options.Group, "0-0", createStream: true).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
        {
            // The group exists.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, EventName = "WorkQueueReadFailed", Level = LogLevel.Warning, Message = "Reading the work queue failed: {Error}; retrying")]
        public static partial void ReadFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 3102, EventName = "WorkQueueClaimed", Level = LogLevel.Information, Message = "Claimed {Count} entries idle too long at {Consumers}")]
        public static partial void Claimed(ILogger logger, int count, string consumers);

        [LoggerMessage(EventId = 3103, EventName = "WorkQueueRecordFailed", Level = LogLevel.Warning, Message = "The outcome of entry {EntryId} could not be recorded ({Error}); it will be delivered again")]
        public static partial void RecordFailed(ILogger logger, string entryId, string error);
    }
}
