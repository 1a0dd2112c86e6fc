using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxyScheduler.Testing;

/// <summary>
/// A Kestrel server on 127.0.0.1 that serves many virtual hosts, one per port, and counts server-side how many
/// requests each host (and the whole server) is working on at once. A request counts from its arrival until the server
/// starts writing its response, so a client that releases its slot only after reading the response can never be seen
/// over its limit by accident.
/// </summary>
/// <remarks>
/// Routes on every host: <c>/</c> (latency per the host's setting, then "ok"), <c>/delay/{ms}</c>,
/// <c>/status/{code}</c> (with <c>?retryAfter=s</c>), <c>/bytes/{n}</c>, <c>/redirect?to=URL&amp;status=302</c>,
/// <c>/echo-headers</c>, <c>/whoami</c> (the caller's address), <c>/block-from/{ip}</c> (403 to that caller address),
/// <c>/stall-body</c> (4 KiB whose last 3 KiB come after the host's body stall), <c>/reset-every/{n}</c> (every n-th
/// request's connection is reset).
/// </remarks>
public sealed class TargetServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<int, HostCounter> _counters = new();
    private readonly ConcurrentDictionary<int, (int MinMs, int MaxMs)> _latency = new();
    private int _globalInFlight;
    private int _globalMax;

    private TargetServer(WebApplication app, IReadOnlyList<Uri> hosts)
    {
        _app = app;
        Hosts = hosts;
    }

    /// <summary>Gets the base URI of each virtual host (<c>http://127.0.0.1:port/</c>).</summary>
    public IReadOnlyList<Uri> Hosts { get; private set; }

    public int GlobalMaxInFlight => Volatile.Read(ref _globalMax);

    public int GlobalInFlight => Volatile.Read(ref _globalInFlight);

    public HostCounter Counter(Uri host) => _counters.GetOrAdd(host.Port, static p => new HostCounter(p));

    /// <summary>Sets the latency range of <c>/</c> on one host (uniform between the bounds).</summary>
    public void SetLatency(Uri host, int minMs, int maxMs) => _latency[host.Port] = (minMs, maxMs);

    private readonly ConcurrentDictionary<int, int> _bodyStall = new();
    private long _resetCounter;
    private long _resetsSent;

    /// <summary>Gets how many connections <c>/reset-every/{n}</c> has reset.</summary>
    public long ResetsSent => Interlocked.Read(ref _resetsSent);

    /// <summary>Makes <c>/stall-body</c> on <paramref name="host"/> stop for <paramref name="ms"/> after its first KiB (0: no stall).</summary>
    public void SetBodyStall(Uri host, int ms) => _bodyStall[host.Port] = ms;

    /// <summary>Sets the latency range of <c>/</c> on every host.</summary>
    public void SetLatency(int minMs, int maxMs)
    {
        foreach (var host in Hosts)
        {
            SetLatency(host, minMs, maxMs);
        }
    }

    public void ResetCounters()
    {
        foreach (var counter in _counters.Values)
        {
            counter.Reset();
        }

        Volatile.Write(ref _globalMax, Volatile.Read(ref _globalInFlight));
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte[]> JsonDocuments = new();

    /// <summary>Gets the catalogue page of about <paramref name="kilobytes"/> KiB (built once per size, then shared).</summary>
    public static byte[] Json(int kilobytes) => JsonDocuments.GetOrAdd(kilobytes, CreateJson);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, HostLimit> _limits = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (int Status, string Body, string? RedirectTo, int DelayMs)> _robots = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<(int Port, string PathAndQuery, string UserAgent, DateTimeOffset At)> _log = new();

    /// <summary>Gets every request the server received: port, path and query, user agent, arrival time.</summary>
    public IReadOnlyCollection<(int Port, string PathAndQuery, string UserAgent, DateTimeOffset At)> Log => _log;

    /// <summary>
    /// Makes <c>/robots.txt</c> on <paramref name="host"/> answer <paramref name="status"/> with <paramref name="body"/>
    /// (404 when never set), after <paramref name="delayMs"/> ms. With <paramref name="redirectTo"/>, it answers
    /// <paramref name="status"/> with that <c>Location</c> instead, and <c>/hops/0</c> answers 200 with the body
    /// (<c>/hops/{n}</c> redirects to <c>/hops/{n-1}</c>, so <c>/hops/4</c> makes five redirects in all).
    /// </summary>
    public void SetRobots(Uri host, int status, string body, string? redirectTo = null, int delayMs = 0) => _robots[host.Port] = (status, body, redirectTo, delayMs);

    /// <summary>
    /// Makes <c>/limited</c> on <paramref name="host"/> behave like a site with a real limiter: 429 to a request beyond
    /// <paramref name="perSecond"/> (token bucket of <paramref name="burst"/>) or beyond <paramref name="maxInFlight"/>
    /// at once, else 200 after <paramref name="workMs"/> ms.
    /// </summary>
    public HostLimit SetLimit(Uri host, double perSecond, int burst, int maxInFlight, int workMs)
    {
        var limit = new HostLimit(perSecond, burst, maxInFlight, workMs);
        _limits[host.Port] = limit;
        return limit;
    }


    /// <summary>The body of <c>/json/{kilobytes}</c>: <c>{"products":[{"id":..,"name":..,"price":..,"tags":[..],"description":..}, ...]}</c>.</summary>
    public static byte[] CreateJson(int kilobytes)
    {
        var random = new Random(kilobytes);
        var text = new System.Text.StringBuilder("{\"products\":[");
        for (var id = 0; text.Length < kilobytes * 1024; id++)
        {
            if (id > 0)
            {
                text.Append(',');
            }

            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"id\":{id},\"name\":\"Product {id} of {kilobytes}\",\"price\":{random.Next(100, 100_000) / 100.0:0.00},\"inStock\":{(random.Next(2) == 0 ? "true" : "false")},\"tags\":[\"t{random.Next(50)}\",\"t{random.Next(50)}\"],\"description\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit \\u00e9 {random.Next()}\"}}");
        }

        return System.Text.Encoding.UTF8.GetBytes(text.Append("]}").ToString());
    }

    public static async Task<TargetServer> StartAsync(int hostCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hostCount);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxConcurrentConnections = null;
            kestrel.AddServerHeader = false;
            for (var i = 0; i < hostCount; i++)
            {
                kestrel.Listen(IPAddress.Loopback, 0);
            }
        });

        var app = builder.Build();
        TargetServer? server = null;
        app.Run(context => server!.HandleAsync(context));
        server = new TargetServer(app, []);
        await app.StartAsync().ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        server.Hosts = [.. addresses.Select(a => new Uri(a.EndsWith('/') ? a : a + "/")).OrderBy(u => u.Port)];
        foreach (var host in server.Hosts)
        {
            server.Counter(host);
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var port = context.Connection.LocalPort;
        var counter = Counter(new UriBuilder("http", "127.0.0.1", port).Uri);
        var path = context.Request.Path.Value ?? "/";
        var aborted = context.RequestAborted;

        _log.Enqueue((port, context.Request.Path.Value + context.Request.QueryString.Value, context.Request.Headers.UserAgent.ToString(), DateTimeOffset.UtcNow));
        counter.Enter();
        HostCounter.UpdateMax(ref _globalMax, Interlocked.Increment(ref _globalInFlight));
        var exited = false;
        void Exit()
        {
            if (!exited)
            {
                exited = true;
                Interlocked.Decrement(ref _globalInFlight);
                counter.Exit();
            }
        }

        try
        {
            if (path == "/")
            {
                var (min, max) = _latency.TryGetValue(port, out var l) ? l : (0, 0);
                var ms = max > min ? Random.Shared.Next(min, max + 1) : min;
                if (ms > 0)
                {
                    await Task.Delay(ms, aborted).ConfigureAwait(false);
                }

                Exit();
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("ok", aborted).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/reset-every/", StringComparison.Ordinal) && int.TryParse(path[13..], out var every) && every > 0)
            {
                // Every n-th request to this route (per host) has its connection reset before any answer: a transient fault.
                Exit();
                if (Interlocked.Increment(ref _resetCounter) % every == 0)
                {
                    Interlocked.Increment(ref _resetsSent);
                    context.Abort();
                    return;
                }

                await context.Response.WriteAsync("ok", aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/stall-body")
            {
                // Headers and the first bytes at once, the rest after the host's body stall (SetBodyStall): a slow body.
                Exit();
                context.Response.ContentType = "text/plain";
                context.Response.ContentLength = 4096;
                await context.Response.Body.WriteAsync(new byte[1024], aborted).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
                if (_bodyStall.TryGetValue(port, out var stall) && stall > 0)
                {
                    await Task.Delay(stall, aborted).ConfigureAwait(false);
                }

                await context.Response.Body.WriteAsync(new byte[3072], aborted).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/delay/", StringComparison.Ordinal) && int.TryParse(path[7..], out var delay))
            {
                await Task.Delay(delay, aborted).ConfigureAwait(false);
                Exit();
                await context.Response.WriteAsync("ok", aborted).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/status/", StringComparison.Ordinal) && int.TryParse(path[8..], out var status))
            {
                Exit();
                context.Response.StatusCode = status;
                if (context.Request.Query.TryGetValue("retryAfter", out var retryAfter))
                {
                    context.Response.Headers.RetryAfter = retryAfter.ToString();
                }

                await context.Response.WriteAsync($"status {status}", aborted).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/bytes/", StringComparison.Ordinal) && int.TryParse(path[7..], out var size))
            {
                Exit();
                context.Response.ContentType = "application/octet-stream";
                context.Response.ContentLength = size;
                var chunk = new byte[Math.Min(size, 64 * 1024)];
                for (var sent = 0; sent < size; sent += chunk.Length)
                {
                    await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - sent)), aborted).ConfigureAwait(false);
                }

                return;
            }

            if (path.StartsWith("/json/", StringComparison.Ordinal) && int.TryParse(path[6..], out var kilobytes))
            {
                // A catalogue page of about that many KiB (the same bytes for the same size), for parsing work.
                Exit();
                var document = Json(kilobytes);
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = document.Length;
                await context.Response.Body.WriteAsync(document, aborted).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/page/", StringComparison.Ordinal) && int.TryParse(path[6..], out var pageNumber))
            {
                // An HTML page titled "Page N" with N links, for parsers.
                Exit();
                context.Response.ContentType = "text/html; charset=utf-8";
                var links = string.Concat(Enumerable.Range(0, pageNumber).Select(i => $"<a href=\"/page/{i}\">{i}</a>"));
                await context.Response.WriteAsync($"<!doctype html><html><head><TITLE>Page {pageNumber} &amp; co</TITLE></head><body>{links}</body></html>", aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/robots.txt" || path.StartsWith("/hops/", StringComparison.Ordinal))
            {
                Exit();
                var (robotsStatus, robotsBody, robotsRedirect, robotsDelay) = _robots.TryGetValue(port, out var robots) ? robots : (404, "not found", null, 0);
                if (robotsDelay > 0)
                {
                    await Task.Delay(robotsDelay, aborted).ConfigureAwait(false);
                }

                if (path.StartsWith("/hops/", StringComparison.Ordinal) && int.TryParse(path[6..], out var hops) && hops > 0)
                {
                    context.Response.StatusCode = 302;
                    context.Response.Headers.Location = $"/hops/{hops - 1}";
                    return;
                }

                if (path == "/robots.txt" && robotsRedirect is not null)
                {
                    context.Response.StatusCode = robotsStatus;
                    context.Response.Headers.Location = robotsRedirect;
                    return;
                }

                context.Response.StatusCode = robotsRedirect is null ? robotsStatus : 200;
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync(robotsBody, aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/limited" && _limits.TryGetValue(port, out var limit))
            {
                var admitted = limit.TryEnter();
                try
                {
                    if (!admitted)
                    {
                        Exit();
                        context.Response.StatusCode = 429;
                        await context.Response.WriteAsync("slow down", aborted).ConfigureAwait(false);
                        return;
                    }

                    if (limit.WorkMs > 0)
                    {
                        await Task.Delay(limit.WorkMs, aborted).ConfigureAwait(false);
                    }

                    Exit();
                    await context.Response.WriteAsync("ok", aborted).ConfigureAwait(false);
                    return;
                }
                finally
                {
                    limit.Leave(admitted);
                }
            }

            if (path == "/redirect")
            {
                Exit();
                context.Response.StatusCode = int.TryParse(context.Request.Query["status"], out var code) ? code : 302;
                context.Response.Headers.Location = context.Request.Query["to"].ToString();
                return;
            }

            if (path.StartsWith("/block-from/", StringComparison.Ordinal))
            {
                // 403 to one client address (a proxy's outgoing address), 200 with the caller's address to the others.
                Exit();
                var remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
                context.Response.StatusCode = remote == path[12..] ? 403 : 200;
                await context.Response.WriteAsync(remote, aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/exit")
            {
                // The exit label a test gateway put on the request (what a real provider's exit IP would be).
                Exit();
                await context.Response.WriteAsync(context.Request.Headers["X-Exit-Label"].ToString(), aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/whoami")
            {
                Exit();
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync(context.Connection.RemoteIpAddress?.ToString() ?? "?", aborted).ConfigureAwait(false);
                return;
            }

            if (path == "/echo-headers")
            {
                Exit();
                context.Response.ContentType = "text/plain";
                var lines = context.Request.Headers.Select(h => $"{h.Key}: {h.Value}");
                await context.Response.WriteAsync(string.Join('\n', lines), aborted).ConfigureAwait(false);
                return;
            }

            Exit();
            context.Response.StatusCode = 404;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            Exit();
        }
    }
}

/// <summary>A site's own limiter for <c>/limited</c>: a token bucket on real time and a cap on requests in flight.</summary>
public sealed class HostLimit(double perSecond, int burst, int maxInFlight, int workMs)
{
    private readonly object _lock = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private double _tokens = burst;
    private double _at;
    private int _inFlight;
    private int _served;
    private int _refused;

    public int WorkMs => workMs;

    public double PerSecond => perSecond;

    public int Served => Volatile.Read(ref _served);

    public int Refused => Volatile.Read(ref _refused);

    public bool TryEnter()
    {
        lock (_lock)
        {
            var now = _clock.Elapsed.TotalSeconds;
            _tokens = Math.Min(burst, _tokens + ((now - _at) * perSecond));
            _at = now;
            if (_tokens < 1 || _inFlight >= maxInFlight)
            {
                _refused++;
                return false;
            }

            _tokens--;
            _inFlight++;
            _served++;
            return true;
        }
    }

    public void Leave(bool admitted)
    {
        if (admitted)
        {
            lock (_lock)
            {
                _inFlight--;
            }
        }
    }
}

