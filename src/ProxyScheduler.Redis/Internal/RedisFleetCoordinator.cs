using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProxyScheduler.Fleet;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The fleet coordinator on Redis. Shares of each host's limit are leases in Redis (a sorted set per host, see
/// <see cref="RedisScripts"/>); a background loop takes the shares the dispatcher asks for (several per round trip),
/// gives back the ones it returns, renews the held ones every third of the TTL (one round trip for all hosts), and
/// publishes Retry-After pauses and proxy health changes on one channel that every worker listens to.
/// </summary>
internal sealed partial class RedisFleetCoordinator : IFleetCoordinator, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);

    private readonly RedisOptions _options;
    private readonly RedisConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKeys _keys;
    private readonly object _sync = new();
    private readonly LeaseBook _book;
    private readonly Queue<Func<IDatabase, Task>> _publications = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _errors;
    private IFleetListener? _listener;
    private Task? _loop;
    private bool _available = true;
    private long _unavailableSince;
    private long _lastRenewed;
    private long _nextRenew;
    private bool _disposed;
    private bool _subscribed;
    private readonly SingleFlight _subscribing = new();
    private readonly SingleFlight _returning = new();
    private readonly SingleFlight _acquiring = new();
    private readonly SingleFlight _renewing = new();
    private readonly SingleFlight _publishing = new();
    private readonly SingleFlight _probing = new();
    private readonly SingleFlight _tokening = new();
    private long _nextProbe;
    private readonly SingleFlight _claiming = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private long _nextClaim;
    private long _claimContestedSince;
    private string? _conflict;
    private bool _claimed;

    public RedisFleetCoordinator(IOptions<RedisOptions> options, RedisConnection connection, TimeProvider time, ILoggerFactory loggerFactory, IMeterFactory? meters = null)
    {
        _options = options.Value;
        _connection = connection;
        _time = time;
        _book = new LeaseBook(time);
        _logger = loggerFactory.CreateLogger("ProxyScheduler.Redis");
        WorkerId = _options.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        _keys = new RedisKeys(_options.KeyPrefix);
        _meter = meters?.Create("ProxyScheduler") ?? new Meter("ProxyScheduler");
        _calls = _meter.CreateCounter<long>("proxyscheduler.redis.calls", "{call}", "Redis round trips of distributed mode, by operation (acquire, release, renew, tokens, session, publish, ping).");
        _errors = _meter.CreateCounter<long>("proxyscheduler.redis.errors", "{error}", "Redis operations that failed (connection, timeout).");
        _meter.CreateObservableGauge("proxyscheduler.redis.available", () => Volatile.Read(ref _available) ? 1 : 0, "{state}", "1 while Redis answers, 0 while it does not (the unavailable policy applies).");
    }

    /// <summary>Gets this worker's name in Redis.</summary>
    public string WorkerId { get; }

    /// <summary>Gets the Redis round trips made so far (for the benchmark and the tests).</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Gets a value indicating whether this worker listens to the fleet's channel (and read the recorded states).</summary>
    public bool IsListening => Volatile.Read(ref _subscribed);

    /// <summary>Gets, when another running worker holds this worker's <c>WorkerId</c>, why every request is refused.</summary>
    public string? WorkerIdConflict => Volatile.Read(ref _conflict);

    /// <summary>Gets a value indicating whether Redis answered the last operation.</summary>
    public bool IsAvailable => Volatile.Read(ref _available);

    private long _roundTrips;

    public void Attach(IFleetListener listener)
    {
        lock (_sync)
        {
            if (_listener is not null)
            {
                throw new InvalidOperationException("The Redis coordinator serves one scheduler; register one scheduler per service provider.");
            }

            _listener = listener;
        }

        listener.AttachFleet(this, _options.ShareLinger);
        _loop = Task.Run(RunAsync);
    }

    public void WantShares(HostKey host, int count, int limit) => Want(Resource.Of(host), count, limit);

    public void WantProxyShares(string proxyId, int count, int limit) => Want(Resource.OfProxy(proxyId), count, limit);

    public void ReturnProxyShares(string proxyId, int count) => Return(Resource.OfProxy(proxyId), count);

    public void WantProxyTokens(string proxyId, double rate) => WantTokens(Resource.OfProxy(proxyId), 1, rate, 1);

    private void Want(Resource host, int count, int limit)
    {
        _book.Want(host, count, limit, _time.GetTimestamp());
        Signal();
    }

    public void WantTokens(HostKey host, int count, double rate, int burst) => WantTokens(Resource.Of(host), count, rate, burst);

    private void WantTokens(Resource resource, int count, double rate, int burst)
    {
        _book.WantTokens(resource, count, rate, burst, _time.GetTimestamp());
        Signal();
    }

    public void ReturnShares(HostKey host, int count) => Return(Resource.Of(host), count);

    private void Return(Resource host, int count)
    {
        _book.Return(host, count);
        Signal();
    }

    public void HostPaused(HostKey host, DateTimeOffset until)
    {
        var untilMs = until.ToUnixTimeMilliseconds();
        Enqueue(async db =>
        {
            await db.ScriptEvaluateAsync(RedisScripts.Pause, [_keys.Pause(host)], [untilMs]).ConfigureAwait(false);
            await db.PublishAsync(_keys.Channel, Invariant($"pause|{WorkerId}|{host}|{untilMs}")).ConfigureAwait(false);
        });
    }

    public void ProxyChanged(ProxyFleetEvent change)
    {
        var untilMs = change.Until?.ToUnixTimeMilliseconds() ?? 0;
        var message = Invariant($"proxy|{WorkerId}|{change.Kind}|{change.ProxyId}|{untilMs}|{change.Host ?? "-"}");
        Enqueue(async db =>
        {
            if (change.Kind is ProxyFleetEventKind.Quarantined or ProxyFleetEventKind.Retired)
            {
                await db.HashSetAsync(_keys.Proxies, change.ProxyId, Invariant($"{change.Kind}|{untilMs}")).ConfigureAwait(false);
            }
            else if (change.Kind == ProxyFleetEventKind.Reanimated)
            {
                await db.HashDeleteAsync(_keys.Proxies, change.ProxyId).ConfigureAwait(false);
            }
            else if (change.Kind == ProxyFleetEventKind.Blocked && change.Host is { } blockedHost)
            {
                // For workers that start (or reconnect) later; expired entries are removed when read.
                await db.HashSetAsync(_keys.Blocks, $"{change.ProxyId}|{blockedHost}", untilMs).ConfigureAwait(false);
            }

            await db.PublishAsync(_keys.Channel, message).ConfigureAwait(false);
        });
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        // Best effort: give every held share back so the fleet does not wait for their TTL.
        try
        {
            var db = _connection.Database;
            List<Task> releases = [.. _book.TakeAllLeases().Select(held => ReleaseAsync(db, held.Resource, held.Members))];

            await Task.WhenAll(releases).WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The leases expire by themselves.
        }

        _meter.Dispose();
        _stopping.Dispose();
    }

    private void Enqueue(Func<IDatabase, Task> publication)
    {
        lock (_sync)
        {
            _publications.Enqueue(publication);
        }

        Signal();
    }

    private void Signal() => Volatile.Read(ref _wake).TrySetResult();

    /// <summary>The share of a limit this worker takes alone while Redis is away and the policy is FallbackToLocal; <see langword="null"/> otherwise.</summary>
    private double? FallbackShare() =>
        !Volatile.Read(ref _available) && _options.WhenUnavailable == RedisUnavailablePolicy.FallbackToLocal ? _options.FallbackShare : null;

    private async Task RunAsync()
    {
        var token = _stopping.Token;
        await StartAsync(token).ConfigureAwait(false);
        while (!token.IsCancellationRequested)
        {
            try
            {
                var wake = Volatile.Read(ref _wake);
                await Task.WhenAny(wake.Task, Task.Delay(Tick, _time, token)).ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    return;
                }

                if (wake.Task.IsCompleted)
                {
                    // Signals from now on wake the next wait; what they asked for is done in this pass anyway.
                    Interlocked.CompareExchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wake);
                }

                _listener!.SweepShares();
                var db = _connection.Database;
                Start(_claiming, () => ClaimWorkerIdAsync(db));
                if (Volatile.Read(ref _conflict) is { } conflict)
                {
                    // Two workers under one WorkerId would share leases and exceed the fleet's limits: this one refuses all work.
                    RefuseAll(conflict);
                    continue;
                }

                // Nothing here waits for Redis: each operation runs on its own, so a slow or absent Redis never holds up
                // the others, the local grants of the fallback policy, or the pause policy's timeout.
                Start(_subscribing, () => SubscribeAsync(db));
                Start(_returning, () => ReturnAsync(db));
                if (Volatile.Read(ref _claimed) || !Volatile.Read(ref _available))
                {
                    // Shares are taken only under a name this worker holds (or locally, by the fallback policy).
                    Start(_acquiring, () => AcquireAsync(db));
                    Start(_tokening, () => TokensAsync(db));
                }

                Start(_renewing, () => RenewAsync(db));
                Start(_publishing, () => PublishAsync(db));
                if (!Volatile.Read(ref _available))
                {
                    // Nothing else may reach Redis while it is away (fallback shares are local): a ping finds it back.
                    Start(_probing, () => ProbeAsync(db));
                }

                FailLongWaits();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop must survive anything; it logs and goes on.
            catch (Exception ex)
            {
                Log.LoopFailed(_logger, ex);
            }
#pragma warning restore CA1031
        }
    }

    /// <summary>Runs <paramref name="operation"/> unless its previous run is still going.</summary>
    private void Start(SingleFlight gate, Func<Task> operation)
    {
        if (Interlocked.CompareExchange(ref gate.Running, 1, 0) == 0)
        {
            _ = RunGatedAsync(gate, operation);
        }
        else
        {
            // Asked for while running: run again as soon as it ends.
            Volatile.Write(ref gate.Again, 1);
        }
    }

#pragma warning disable CA1031 // An operation's failure is logged; the loop goes on.
    private async Task RunGatedAsync(SingleFlight gate, Func<Task> operation)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
        catch (Exception ex)
        {
            Log.LoopFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref gate.Running, 0);
            if (Interlocked.Exchange(ref gate.Again, 0) == 1)
            {
                Signal();
            }
        }
    }
#pragma warning restore CA1031

    /// <summary>Connects (the multiplexer keeps reconnecting by itself afterwards).</summary>
    private async Task StartAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _connection.GetAsync().ConfigureAwait(false);
                Log.Started(_logger, WorkerId, _options.KeyPrefix);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Failed(ex);
                _connection.Reset();
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Listens to the fleet's channel and applies the proxy states recorded before this worker listened (once; the multiplexer re-subscribes after a reconnection).</summary>
    private async Task SubscribeAsync(IDatabase db)
    {
        if (_subscribed)
        {
            return;
        }

        try
        {
            await db.Multiplexer.GetSubscriber().SubscribeAsync(_keys.Channel, (_, message) => OnMessage(message)).ConfigureAwait(false);
            var states = await db.HashGetAllAsync(_keys.Proxies).ConfigureAwait(false);
            var blocks = await db.HashGetAllAsync(_keys.Blocks).ConfigureAwait(false);
            Count("subscribe", 3);
            _subscribed = true;
            Succeeded();
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var entry in blocks)
            {
                var parts = ((string)entry.Name!).Split('|');
                if (parts.Length == 2 && (long)entry.Value > nowMs)
                {
                    _listener!.ApplyProxyEvent(new ProxyFleetEvent(ProxyFleetEventKind.Blocked, parts[0], DateTimeOffset.FromUnixTimeMilliseconds((long)entry.Value), parts[1]));
                }
                else
                {
                    _ = db.HashDeleteAsync(_keys.Blocks, entry.Name, CommandFlags.FireAndForget);
                }
            }

            foreach (var entry in states)
            {
                var parts = ((string)entry.Value!).Split('|');
                if (parts.Length == 2 && Enum.TryParse<ProxyFleetEventKind>(parts[0], out var kind) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var untilMs))
                {
                    _listener!.ApplyProxyEvent(new ProxyFleetEvent(kind, entry.Name!, untilMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(untilMs) : null));
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
    }

    private void OnMessage(RedisValue message)
    {
        var parts = ((string?)message ?? string.Empty).Split('|');
        switch (parts)
        {
            case ["granted", var resourceText, var worker, var member] when worker == WorkerId && Resource.TryParse(resourceText, out var resource):
                // Another worker gave a share back while this one waited: it is this one's now, no round trip needed.
                _book.Handed(resource, member);

                Grant(resource, 1, contended: true, fair: 0);
                break;
            case ["pause", var origin, var hostText, var untilText] when origin != WorkerId && HostKey.TryParse(hostText, out var host)
                && long.TryParse(untilText, CultureInfo.InvariantCulture, out var untilMs):
                _listener?.ApplyFleetPause(host, DateTimeOffset.FromUnixTimeMilliseconds(untilMs));
                break;
            case ["proxy", var origin, var kindText, var proxyId, var untilText, var hostText] when origin != WorkerId
                && Enum.TryParse<ProxyFleetEventKind>(kindText, out var kind) && long.TryParse(untilText, CultureInfo.InvariantCulture, out var untilMs):
                _listener?.ApplyProxyEvent(new ProxyFleetEvent(kind, proxyId, untilMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(untilMs) : null, hostText == "-" ? null : hostText));
                break;
        }
    }

    private async Task ReturnAsync(IDatabase db)
    {
        var releases = _book.TakeReturns();
        if (releases.Count > 0)
        {
            await Task.WhenAll(releases.Select(r => Guarded(() => ReleaseAsync(db, r.Resource, r.Members)))).ConfigureAwait(false);
        }
    }

    private Task<RedisResult> ReleaseAsync(IDatabase db, Resource host, string[] members)
    {
        Count("release");
        RedisValue[] args = [(RedisValue)_keys.ChannelName, host.ToString(), (long)_options.LeaseTtl.TotalMilliseconds, .. members.Select(m => (RedisValue)m)];
        return db.ScriptEvaluateAsync(RedisScripts.Release, [_keys.Leases(host), _keys.Wants(host)], args);
    }

    private async Task AcquireAsync(IDatabase db)
    {
        var (asks, local) = _book.TakeShareAsks(_time.GetTimestamp(), FallbackShare);
        foreach (var (host, granted) in local)
        {
            Grant(host, granted, contended: false, int.MaxValue);
        }

        if (asks.Count > 0)
        {
            await Task.WhenAll(asks.Select(a => AcquireOneAsync(db, a.Resource, a.Count, a.Limit, a.Sequence))).ConfigureAwait(false);
        }
    }

    private async Task AcquireOneAsync(IDatabase db, Resource host, int count, int limit, long sequence)
    {
        RedisResult[] result;
        try
        {
            Count("acquire");
            result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Acquire, [_keys.Leases(host), _keys.Wants(host), _keys.Pause(host)],
                [WorkerId, count, limit, (long)_options.LeaseTtl.TotalMilliseconds, sequence]).ConfigureAwait(false))!;
            Succeeded();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
            _book.AskFailed(host, _time.GetTimestamp());
            return;
        }

        var granted = (int)result[0];
        var waiting = (int)result[1];
        var pause = (string?)result[2];
        var (contended, fair) = _book.Acquired(host, granted, waiting, count, limit, sequence, WorkerId, _time.GetTimestamp());
        if (!host.IsProxy && !string.IsNullOrEmpty(pause) && long.TryParse(pause, CultureInfo.InvariantCulture, out var untilMs))
        {
            _listener!.ApplyFleetPause(host.Host, DateTimeOffset.FromUnixTimeMilliseconds(untilMs));
        }

        if (granted > 0)
        {
            Grant(host, granted, contended, fair);
        }
        else
        {
            Contention(host, contended, fair);
        }
    }

    /// <summary>Takes start tokens from the fleet's buckets for the rate-limited hosts that wait for them.</summary>
    private async Task TokensAsync(IDatabase db)
    {
        var (asks, local) = _book.TakeTokenAsks(_time.GetTimestamp(), FallbackShare);
        foreach (var (host, count) in local)
        {
            GrantTokens(host, count);
        }

        await Task.WhenAll(asks.Select(async a =>
        {
            RedisResult[] result;
            try
            {
                Count("tokens");
                var ttl = (long)Math.Max(60_000, a.Burst / a.Rate * 2_000);
                result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Tokens, [_keys.Bucket(a.Resource)], [a.Rate, a.Burst, a.Count, ttl]).ConfigureAwait(false))!;
                Succeeded();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Failed(ex);
                _book.TokensFailed(a.Resource, _time.GetTimestamp());
                return;
            }

            var granted = (int)result[0];
            var waitMs = (long)result[1];
            _book.TokensAnswered(a.Resource, granted, waitMs, a.Count, _time.GetTimestamp());
            if (granted > 0)
            {
                GrantTokens(a.Resource, granted);
            }
        })).ConfigureAwait(false);
    }

    private async Task RenewAsync(IDatabase db)
    {
        var now = _time.GetTimestamp();
        if (now < _nextRenew)
        {
            return;
        }

        _nextRenew = now + (long)(_options.LeaseTtl.TotalSeconds / 3 * _time.TimestampFrequency);
        var held = _book.Held();

        if (held.Count == 0)
        {
            _lastRenewed = now;
            return;
        }

        RedisResult[] result;
        try
        {
            Count("renew");
            var keys = held.SelectMany(h => new[] { _keys.Leases(h.Resource), _keys.Wants(h.Resource) }).ToArray();
            var args = new List<RedisValue> { (long)_options.LeaseTtl.TotalMilliseconds, WorkerId };
            foreach (var (_, members, _, _) in held)
            {
                args.Add(members.Length);
                args.AddRange(members.Select(m => (RedisValue)m));
            }

            result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Renew, keys, [.. args]).ConfigureAwait(false))!;
            Succeeded();
            _lastRenewed = now;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
            _nextRenew = now + (long)(0.5 * _time.TimestampFrequency);
            if (_time.GetElapsedTime(_lastRenewed, now) >= _options.LeaseTtl)
            {
                // Not renewed for a whole TTL: Redis has let them go (or will); using them could exceed the limit.
                RevokeAll();
            }

            return;
        }

        var at = 0;
        List<(Resource Host, int Lost, bool Contended, int Fair)> updates = [];
        foreach (var (host, _, limit, wanting) in held)
        {
            var lostCount = (int)result[at++];
            var lost = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < lostCount; i++)
            {
                lost.Add((string)result[at++]!);
            }

            var waiting = (int)result[at++];
            var (removed, contended, fair) = _book.Renewed(host, lost, waiting, limit, wanting);
            updates.Add((host, removed, contended, fair));
        }

        foreach (var (host, lostShares, contended, fair) in updates)
        {
            if (lostShares > 0)
            {
                Log.LeasesLost(_logger, host.Text, lostShares);
                Revoke(host, lostShares);
            }

            Contention(host, contended, fair);
        }
    }

    private async Task PublishAsync(IDatabase db)
    {
        List<Func<IDatabase, Task>> pending;
        lock (_sync)
        {
            if (_publications.Count == 0)
            {
                return;
            }

            pending = [.. _publications];
            _publications.Clear();
        }

        Count("publish", pending.Count);
        await Task.WhenAll(pending.Select(p => Guarded(() => p(db)))).ConfigureAwait(false);
    }

    private async Task ProbeAsync(IDatabase db)
    {
        var now = _time.GetTimestamp();
        if (now < _nextProbe)
        {
            return;
        }

        _nextProbe = now + (long)(0.5 * _time.TimestampFrequency);
        Count("ping");
        await db.PingAsync().ConfigureAwait(false);
        Succeeded();
    }

    /// <summary>
    /// Holds <c>{prefix}worker:{WorkerId}</c> with this instance's token, renewed every third of the lease TTL. A key held
    /// by another token may be a crashed predecessor's: it is waited out for one TTL. Still held after that, another
    /// worker is running under the same name, and this one refuses all work (<see cref="WorkerIdConflict"/>).
    /// </summary>
    private async Task ClaimWorkerIdAsync(IDatabase db)
    {
        var now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextClaim) || Volatile.Read(ref _conflict) is not null)
        {
            return;
        }

        Volatile.Write(ref _nextClaim, now + (long)(_options.LeaseTtl.TotalSeconds / 3 * _time.TimestampFrequency));
        Count("claim");
        var held = (string?)await db.ScriptEvaluateAsync(RedisScripts.ClaimWorker, [_keys.Worker(WorkerId)], [_instance, (long)_options.LeaseTtl.TotalMilliseconds]).ConfigureAwait(false);
        Succeeded();
        if (held == _instance)
        {
            Volatile.Write(ref _claimContestedSince, 0);
            if (!Volatile.Read(ref _claimed))
            {
                Volatile.Write(ref _claimed, true);
                Signal();
            }

            return;
        }

        Volatile.Write(ref _claimed, false);

        if (Volatile.Read(ref _claimContestedSince) == 0)
        {
            Volatile.Write(ref _claimContestedSince, now);
            Volatile.Write(ref _nextClaim, now + (long)(0.2 * _time.TimestampFrequency));
            return;
        }

        if (_time.GetElapsedTime(Volatile.Read(ref _claimContestedSince), now) <= _options.LeaseTtl)
        {
            Volatile.Write(ref _nextClaim, now + (long)(0.2 * _time.TimestampFrequency));
            return;
        }

        var message = $"Another running worker uses the WorkerId '{WorkerId}' (ProxyScheduler:Redis:WorkerId) under the key prefix '{_options.KeyPrefix}': two workers under one name would share leases and exceed the fleet's limits, so this one refuses all work. Give each worker its own WorkerId, or leave it unset for a unique one.";
        Volatile.Write(ref _conflict, message);
        Log.WorkerIdInUse(_logger, WorkerId, _options.KeyPrefix);
        Signal();
    }

    /// <summary>Fails every request waiting for a share (a worker whose name is taken refuses all work).</summary>
    private void RefuseAll(string message)
    {
        foreach (var resource in _book.DropHostWants(long.MaxValue))
        {
            _listener!.FailQueued(resource.Host, RequestFailureReason.CoordinationUnavailable, message);
        }
    }

    /// <summary>Pause policy: requests that waited for a share longer than the timeout while Redis was away fail.</summary>
    private void FailLongWaits()
    {
        if (_available || _options.WhenUnavailable != RedisUnavailablePolicy.Pause)
        {
            return;
        }

        // A want that began before the outage counts from the outage's start.
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Volatile.Read(ref _unavailableSince), now) < _options.UnavailableTimeout)
        {
            return;
        }

        var cutoff = now - (long)(_options.UnavailableTimeout.TotalSeconds * _time.TimestampFrequency);
        foreach (var host in _book.DropHostWants(cutoff))
        {
            var failed = _listener!.FailQueued(host.Host, RequestFailureReason.CoordinationUnavailable,
                $"Redis was unavailable for more than {_options.UnavailableTimeout} (ProxyScheduler:Redis:UnavailableTimeout) while the request waited for a share of its host's limit; it was not sent.");
            Log.RequestsFailed(_logger, host.Text, failed);
        }
    }

    private void RevokeAll()
    {
        foreach (var (resource, members) in _book.TakeAllLeases())
        {
            Revoke(resource, members.Length);
        }
    }

    private async Task Guarded(Func<Task> operation)
    {
        try
        {
            await operation().ConfigureAwait(false);
            Succeeded();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
    }

    private void Succeeded()
    {
        if (Volatile.Read(ref _available))
        {
            return;
        }

        lock (_sync)
        {
            if (_available)
            {
                return;
            }

            Volatile.Write(ref _available, true);
        }

        // After the flag: an ask that still saw Redis away took its local shares before this, and they are taken back here.
        Log.Recovered(_logger, _time.GetElapsedTime(_unavailableSince).TotalSeconds);
        foreach (var (host, count) in _book.TakeLocal())
        {
            // The fleet's shares replace the local ones: the host asks again as its work needs.
            Revoke(host, count);
        }
    }

    private void Failed(Exception ex)
    {
        _errors.Add(1);
        lock (_sync)
        {
            if (!_available)
            {
                return;
            }

            _available = false;
            _unavailableSince = _time.GetTimestamp();
        }

        Log.Unavailable(_logger, _options.WhenUnavailable, ex.GetType().Name, ex.Message);
    }

    /// <summary>Counts a round trip made for the fleet elsewhere (the session store).</summary>
    public void CountCall(string operation) => Count(operation);

    private void Count(string operation, int n = 1)
    {
        Interlocked.Add(ref _roundTrips, n);
        _calls.Add(n, new KeyValuePair<string, object?>("operation", operation));
    }

    private void Grant(Resource resource, int granted, bool contended, int fair)
    {
        if (resource.IsProxy)
        {
            _listener!.GrantProxyShares(resource.Text, granted);
        }
        else
        {
            _listener!.GrantShares(resource.Host, granted, contended, fair);
        }
    }

    private void GrantTokens(Resource resource, int count)
    {
        if (resource.IsProxy)
        {
            _listener!.GrantProxyTokens(resource.Text, count);
        }
        else
        {
            _listener!.GrantTokens(resource.Host, count);
        }
    }

    private void Revoke(Resource resource, int count)
    {
        if (resource.IsProxy)
        {
            _listener!.RevokeProxyShares(resource.Text, count);
        }
        else
        {
            _listener!.RevokeShares(resource.Host, count);
        }
    }

    private void Contention(Resource resource, bool contended, int fair)
    {
        if (!resource.IsProxy)
        {
            _listener!.SetContention(resource.Host, contended, fair);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Marks an operation of the loop as running, so that it never runs twice at once.</summary>
    private sealed class SingleFlight
    {
#pragma warning disable SA1401, CA1051 // A field, for Interlocked.
        public int Running;
        public int Again;
#pragma warning restore SA1401, CA1051
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "RedisStarted", Level = LogLevel.Information, Message = "Distributed mode on Redis: worker {WorkerId}, key prefix {KeyPrefix}")]
        public static partial void Started(ILogger logger, string workerId, string keyPrefix);

        [LoggerMessage(EventId = 3002, EventName = "RedisUnavailable", Level = LogLevel.Error, Message = "Redis is unavailable ({ErrorType}: {Error}); policy {Policy} applies until it answers again")]
        public static partial void Unavailable(ILogger logger, RedisUnavailablePolicy policy, string errorType, string error);

        [LoggerMessage(EventId = 3003, EventName = "RedisRecovered", Level = LogLevel.Warning, Message = "Redis answers again after {Seconds:0.0} s; the fleet's shares replace local ones")]
        public static partial void Recovered(ILogger logger, double seconds);

        [LoggerMessage(EventId = 3004, EventName = "LeasesLost", Level = LogLevel.Warning, Message = "{Count} share(s) of host {Host} expired before they were renewed; fewer attempts start to it")]
        public static partial void LeasesLost(ILogger logger, string host, int count);

        [LoggerMessage(EventId = 3005, EventName = "CoordinationTimeout", Level = LogLevel.Error, Message = "{Count} request(s) to {Host} failed: Redis stayed unavailable past the timeout")]
        public static partial void RequestsFailed(ILogger logger, string host, int count);

        [LoggerMessage(EventId = 3007, EventName = "WorkerIdInUse", Level = LogLevel.Critical, Message = "Another running worker uses the WorkerId {WorkerId} under the key prefix {KeyPrefix}; this worker refuses all work. Give each worker its own WorkerId, or leave it unset")]
        public static partial void WorkerIdInUse(ILogger logger, string workerId, string keyPrefix);

        [LoggerMessage(EventId = 3006, EventName = "CoordinatorLoopFailed", Level = LogLevel.Error, Message = "The Redis coordinator's loop failed; it goes on")]
        public static partial void LoopFailed(ILogger logger, Exception exception);
    }
}
