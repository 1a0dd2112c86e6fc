using System.Globalization;
using ProxyScheduler.Fleet;
using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>
/// The fleet's pub/sub channel: what this worker tells the others (Retry-After pauses, proxy health, recorded in Redis
/// for workers that start later) and what it hears from them (pauses, proxy events, a share handed straight to this
/// worker). Publications are queued by the dispatcher's calls (which must not wait) and sent by the coordinator's loop.
/// </summary>
internal sealed class RedisFleetChannel
{
    private readonly object _sync = new();
    private readonly Queue<Func<IDatabase, Task>> _publications = new();
    private readonly RedisKeys _keys;
    private readonly string _workerId;
    private readonly LeaseBook _book;
    private readonly RedisAvailability _availability;
    private readonly RedisCalls _calls;
    private readonly TimeProvider _time;
    private readonly Action _signal;
    private bool _subscribed;

    /// <param name="keys">The fleet's keys.</param>
    /// <param name="workerId">This worker's name (its own messages are not applied twice).</param>
    /// <param name="book">The lease book (a share handed to this worker is recorded there).</param>
    /// <param name="availability">Told whether Redis answered.</param>
    /// <param name="calls">Counts the round trips.</param>
    /// <param name="time">The clock.</param>
    /// <param name="signal">Wakes the coordinator's loop (a publication is queued).</param>
    public RedisFleetChannel(RedisKeys keys, string workerId, LeaseBook book, RedisAvailability availability, RedisCalls calls, TimeProvider time, Action signal)
    {
        _keys = keys;
        _workerId = workerId;
        _book = book;
        _availability = availability;
        _calls = calls;
        _time = time;
        _signal = signal;
    }

    /// <summary>Gets or sets the listener what is heard goes to (set once, when the coordinator is attached).</summary>
    public IFleetListener Listener { get; set; } = null!;

    /// <summary>Gets a value indicating whether this worker listens to the channel (and read the recorded states).</summary>
    public bool IsListening => Volatile.Read(ref _subscribed);

    public void HostPaused(HostKey host, DateTimeOffset until)
    {
        var untilMs = until.ToUnixTimeMilliseconds();
        Enqueue(async db =>
        {
            await db.ScriptEvaluateAsync(RedisScripts.Pause, [_keys.Pause(host)], [untilMs]).ConfigureAwait(false);
            await db.PublishAsync(_keys.Channel, Invariant($"pause|{_workerId}|{host}|{untilMs}")).ConfigureAwait(false);
        });
    }

    public void ProxyChanged(ProxyFleetEvent change)
    {
        var untilMs = change.Until?.ToUnixTimeMilliseconds() ?? 0;
        var message = Invariant($"proxy|{_workerId}|{change.Kind}|{change.ProxyId}|{untilMs}|{change.Host ?? "-"}");
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

    /// <summary>Listens to the fleet's channel and applies the proxy states recorded before this worker listened (once; the multiplexer re-subscribes after a reconnection).</summary>
    public async Task SubscribeAsync(IDatabase db)
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
            _calls.Count("subscribe", 3);
            _subscribed = true;
            _availability.Succeeded();
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var entry in blocks)
            {
                var parts = ((string)entry.Name!).Split('|');
                if (parts.Length == 2 && (long)entry.Value > nowMs)
                {
                    Listener.ApplyProxyEvent(new ProxyFleetEvent(ProxyFleetEventKind.Blocked, parts[0], DateTimeOffset.FromUnixTimeMilliseconds((long)entry.Value), parts[1]));
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
                    Listener.ApplyProxyEvent(new ProxyFleetEvent(kind, entry.Name!, untilMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(untilMs) : null));
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _availability.Failed(ex);
        }
    }

    public async Task PublishAsync(IDatabase db)
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

        _calls.Count("publish", pending.Count);
        await Task.WhenAll(pending.Select(p => _availability.Guarded(() => p(db)))).ConfigureAwait(false);
    }

    private void Enqueue(Func<IDatabase, Task> publication)
    {
        lock (_sync)
        {
            _publications.Enqueue(publication);
        }

        _signal();
    }

    private void OnMessage(RedisValue message)
    {
        var parts = ((string?)message ?? string.Empty).Split('|');
        switch (parts)
        {
            case ["granted", var resourceText, var worker, var member] when worker == _workerId && Resource.TryParse(resourceText, out var resource):
                // Another worker gave a share back while this one waited: it is this one's now, no round trip needed.
                _book.Handed(resource, member);

                Listener.Grant(resource, 1, contended: true, fair: 0);
                break;
            case ["pause", var origin, var hostText, var untilText] when origin != _workerId && HostKey.TryParse(hostText, out var host)
                && long.TryParse(untilText, CultureInfo.InvariantCulture, out var untilMs):
                Listener.ApplyFleetPause(host, DateTimeOffset.FromUnixTimeMilliseconds(untilMs));
                break;
            case ["proxy", var origin, var kindText, var proxyId, var untilText, var hostText] when origin != _workerId
                && Enum.TryParse<ProxyFleetEventKind>(kindText, out var kind) && long.TryParse(untilText, CultureInfo.InvariantCulture, out var untilMs):
                Listener.ApplyProxyEvent(new ProxyFleetEvent(kind, proxyId, untilMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(untilMs) : null, hostText == "-" ? null : hostText));
                break;
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
