using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProxyScheduler.Fleet;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The fleet coordinator on Redis: the face the dispatcher calls (<see cref="IFleetCoordinator"/>, which only records
/// in the <see cref="LeaseBook"/> or queues a publication) and the background loop that does the round trips. Shares of
/// each host's limit are leases in Redis (a sorted set per host, see <see cref="RedisScripts"/>): the
/// <see cref="RedisLeaseClient"/> takes the shares asked for (several per round trip), gives back returned ones and
/// renews held ones every third of the TTL; the <see cref="RedisTokenClient"/> takes start tokens; the
/// <see cref="RedisFleetChannel"/> publishes Retry-After pauses and proxy health and hears the other workers; the
/// <see cref="RedisAvailability"/> applies the policy while Redis is away. The loop also holds this worker's name
/// (<c>{prefix}worker:{WorkerId}</c>) so that two workers never share one.
/// </summary>
internal sealed class RedisFleetCoordinator : IFleetCoordinator, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);

    private readonly RedisOptions _options;
    private readonly RedisConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKeys _keys;
    private readonly object _sync = new();
    private readonly LeaseBook _book;
    private readonly RedisCalls _calls;
    private readonly RedisAvailability _availability;
    private readonly RedisFleetChannel _channel;
    private readonly RedisLeaseClient _leases;
    private readonly RedisTokenClient _tokens;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SingleFlight _subscribing = new();
    private readonly SingleFlight _returning = new();
    private readonly SingleFlight _acquiring = new();
    private readonly SingleFlight _renewing = new();
    private readonly SingleFlight _publishing = new();
    private readonly SingleFlight _probing = new();
    private readonly SingleFlight _tokening = new();
    private readonly SingleFlight _claiming = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IFleetListener? _listener;
    private Task? _loop;
    private bool _disposed;
    private long _nextProbe;
    private long _nextClaim;
    private long _claimContestedSince;
    private string? _conflict;
    private bool _claimed;

    public RedisFleetCoordinator(IOptions<RedisOptions> options, RedisConnection connection, TimeProvider time, ILoggerFactory loggerFactory, IMeterFactory? meters = null)
    {
        _options = options.Value;
        _connection = connection;
        _time = time;
        _logger = loggerFactory.CreateLogger("ProxyScheduler.Redis");
        WorkerId = _options.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        _keys = new RedisKeys(_options.KeyPrefix);
        _book = new LeaseBook(time);
        _calls = new RedisCalls(meters, () => _availability!.IsAvailable);
        _availability = new RedisAvailability(_options, time, _logger, _calls);
        _channel = new RedisFleetChannel(_keys, WorkerId, _book, _availability, _calls, time, Signal);
        _leases = new RedisLeaseClient(_options, _keys, WorkerId, _book, _availability, _calls, time, _logger);
        _tokens = new RedisTokenClient(_keys, _book, _availability, _calls, time);
    }

    /// <summary>Gets this worker's name in Redis.</summary>
    public string WorkerId { get; }

    /// <summary>Gets the Redis round trips made so far (for the benchmark and the tests).</summary>
    public long RoundTrips => _calls.RoundTrips;

    /// <summary>Gets a value indicating whether this worker listens to the fleet's channel (and read the recorded states).</summary>
    public bool IsListening => _channel.IsListening;

    /// <summary>Gets, when another running worker holds this worker's <c>WorkerId</c>, why every request is refused.</summary>
    public string? WorkerIdConflict => Volatile.Read(ref _conflict);

    /// <summary>Gets a value indicating whether Redis answered the last operation.</summary>
    public bool IsAvailable => _availability.IsAvailable;

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

        _channel.Listener = listener;
        _leases.Listener = listener;
        _tokens.Listener = listener;
        _availability.Recovered = () =>
        {
            foreach (var (resource, count) in _book.TakeLocal())
            {
                // The fleet's shares replace the local ones: the host asks again as its work needs.
                listener.Revoke(resource, count);
            }
        };

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

    public void HostPaused(HostKey host, DateTimeOffset until) => _channel.HostPaused(host, until);

    public void ProxyChanged(ProxyFleetEvent change) => _channel.ProxyChanged(change);

    /// <summary>Counts a round trip made for the fleet elsewhere (the session store).</summary>
    public void CountCall(string operation) => _calls.Count(operation);

    private void Return(Resource host, int count)
    {
        _book.Return(host, count);
        Signal();
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
            List<Task> releases = [.. _book.TakeAllLeases().Select(held => _leases.ReleaseAsync(db, held.Resource, held.Members))];

            await Task.WhenAll(releases).WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The leases expire by themselves.
        }

        _calls.Dispose();
        _stopping.Dispose();
    }

    private void Signal() => Volatile.Read(ref _wake).TrySetResult();

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
                Start(_subscribing, () => _channel.SubscribeAsync(db));
                Start(_returning, () => _leases.ReturnAsync(db));
                if (Volatile.Read(ref _claimed) || !_availability.IsAvailable)
                {
                    // Shares are taken only under a name this worker holds (or locally, by the fallback policy).
                    Start(_acquiring, () => _leases.AcquireAsync(db));
                    Start(_tokening, () => _tokens.TokensAsync(db));
                }

                Start(_renewing, () => _leases.RenewAsync(db));
                Start(_publishing, () => _channel.PublishAsync(db));
                if (!_availability.IsAvailable)
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
                RedisLog.LoopFailed(_logger, ex);
            }
#pragma warning restore CA1031
        }
    }

    /// <summary>Runs <paramref name="operation"/> unless its previous run is still going.</summary>
    private void Start(SingleFlight flight, Func<Task> operation)
    {
        if (Interlocked.CompareExchange(ref flight.Running, 1, 0) == 0)
        {
            _ = RunSingleAsync(flight, operation);
        }
        else
        {
            // Asked for while running: run again as soon as it ends.
            Volatile.Write(ref flight.Again, 1);
        }
    }

#pragma warning disable CA1031 // An operation's failure is logged; the loop goes on.
    private async Task RunSingleAsync(SingleFlight flight, Func<Task> operation)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _availability.Failed(ex);
        }
        catch (Exception ex)
        {
            RedisLog.LoopFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref flight.Running, 0);
            if (Interlocked.Exchange(ref flight.Again, 0) == 1)
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
                RedisLog.Started(_logger, WorkerId, _options.KeyPrefix);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _availability.Failed(ex);
                _connection.Reset();
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, token).ConfigureAwait(false);
            }
        }
    }

    private async Task ProbeAsync(IDatabase db)
    {
        var now = _time.GetTimestamp();
        if (now < _nextProbe)
        {
            return;
        }

        _nextProbe = now + (long)(0.5 * _time.TimestampFrequency);
        _calls.Count("ping");
        await db.PingAsync().ConfigureAwait(false);
        _availability.Succeeded();
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
        _calls.Count("claim");
        var held = (string?)await db.ScriptEvaluateAsync(RedisScripts.ClaimWorker, [_keys.Worker(WorkerId)], [_instance, (long)_options.LeaseTtl.TotalMilliseconds]).ConfigureAwait(false);
        _availability.Succeeded();
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
        RedisLog.WorkerIdInUse(_logger, WorkerId, _options.KeyPrefix);
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
        if (_availability.GiveUpCutoff(_time.GetTimestamp()) is not { } cutoff)
        {
            return;
        }

        foreach (var host in _book.DropHostWants(cutoff))
        {
            var failed = _listener!.FailQueued(host.Host, RequestFailureReason.CoordinationUnavailable,
                $"Redis was unavailable for more than {_options.UnavailableTimeout} (ProxyScheduler:Redis:UnavailableTimeout) while the request waited for a share of its host's limit; it was not sent.");
            RedisLog.RequestsFailed(_logger, host.Text, failed);
        }
    }

    /// <summary>Marks an operation of the loop as running, so that it never runs twice at once.</summary>
    private sealed class SingleFlight
    {
#pragma warning disable SA1401, CA1051 // A field, for Interlocked.
        public int Running;
        public int Again;
#pragma warning restore SA1401, CA1051
    }
}
