using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyScheduler.Testing;

/// <summary>How a <see cref="ForwardProxyServer"/> behaves.</summary>
public sealed record ForwardProxyBehavior
{
    /// <summary>Gets the loopback address its outgoing connections come from (127.0.0.0/8 on Linux), so targets can tell proxies apart.</summary>
    public IPAddress OutgoingAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Gets the user name it requires (Basic <c>Proxy-Authorization</c>; 407 otherwise); <see langword="null"/> for an open proxy.</summary>
    public string? UserName { get; init; }

    /// <summary>Gets the password it requires with <see cref="UserName"/>.</summary>
    public string? Password { get; init; }

    /// <summary>Gets the time it waits before forwarding each request or opening each tunnel.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Gets the share (0 to 1) of requests it answers by resetting the connection, as a flaky proxy does.</summary>
    public double ResetRate { get; init; }
}

/// <summary>
/// A real HTTP forward proxy on a free 127.0.0.1 port, in-process: absolute-form requests (<c>GET http://host/path</c>)
/// are forwarded to the target and the answer relayed; <c>CONNECT host:port</c> opens a TCP tunnel (HTTPS). Outgoing
/// connections come from <see cref="ForwardProxyBehavior.OutgoingAddress"/>. <c>Proxy-Authorization</c> and
/// <c>Proxy-Connection</c> are never passed on. Keeps counts of what it did.
/// </summary>
public sealed class ForwardProxyServer : LoopbackTcpServer
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Proxy-Authorization", "Proxy-Connection", "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Host", "Content-Length",
    };

    private readonly HttpClient _forward;
    private readonly string? _expectedAuthorization;
    private int _forwarded;
    private int _tunnels;
    private int _resets;
    private int _challenges;
    private int _inFlight;
    private int _maxInFlight;

    public ForwardProxyServer(ForwardProxyBehavior behavior)
    {
        Behavior = behavior;
        _expectedAuthorization = behavior.UserName is null ? null
            : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{behavior.UserName}:{behavior.Password}"));
        _forward = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context.DnsEndPoint, cancellationToken),
        })
        { Timeout = TimeSpan.FromSeconds(60) };
    }

    public ForwardProxyBehavior Behavior { get; }

    /// <summary>Gets the requests forwarded to a target.</summary>
    public int Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>Gets the CONNECT tunnels opened.</summary>
    public int Tunnels => Volatile.Read(ref _tunnels);

    /// <summary>Gets the requests answered by a reset (<see cref="ForwardProxyBehavior.ResetRate"/>).</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>Gets the most requests the proxy forwarded at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Gets the requests answered 407 (no or wrong credentials).</summary>
    public int Challenges => Volatile.Read(ref _challenges);

    protected override async ValueTask DisposeCoreAsync()
    {
        _forward.Dispose();
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }

    protected override async Task ServeAsync(TcpClient client, int connection)
    {
        try
        {
            var stream = client.GetStream();
            var reader = new HttpMessageReader(stream);
            while (!Stopping.IsCancellationRequested)
            {
                var head = await reader.ReadHeadAsync(Stopping).ConfigureAwait(false);
                if (head is null)
                {
                    return;
                }

                var (method, target, headers) = HttpMessageReader.Parse(head);
                var body = HttpMessageReader.ContentLength(headers) is > 0 and var length ? await reader.ReadBodyAsync(length, Stopping).ConfigureAwait(false) : [];
                if (_expectedAuthorization is not null && HttpMessageReader.Header(headers, "Proxy-Authorization") != _expectedAuthorization)
                {
                    Interlocked.Increment(ref _challenges);
                    await HttpMessageReader.WriteResponseAsync(stream, 407, "Proxy Authentication Required", [("Proxy-Authenticate", "Basic realm=\"proxy\"")], []).ConfigureAwait(false);
                    continue;
                }

                if (Behavior.ResetRate > 0 && Random.Shared.NextDouble() < Behavior.ResetRate)
                {
                    Interlocked.Increment(ref _resets);
                    client.Client.LingerState = new LingerOption(true, 0);
                    return;
                }

                if (Behavior.Latency > TimeSpan.Zero)
                {
                    await Task.Delay(Behavior.Latency, Stopping).ConfigureAwait(false);
                }

                if (method.Equals("CONNECT", StringComparison.OrdinalIgnoreCase))
                {
                    await TunnelAsync(stream, reader, target).ConfigureAwait(false);
                    return;
                }

                if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
                {
                    await HttpMessageReader.WriteResponseAsync(stream, 400, "Bad Request", [], "a forward proxy takes absolute http URIs or CONNECT"u8.ToArray()).ConfigureAwait(false);
                    continue;
                }

                HostCounter.UpdateMax(ref _maxInFlight, Interlocked.Increment(ref _inFlight));
                try
                {
                    await ForwardAsync(stream, method, uri, headers, body).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _inFlight);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or HttpRequestException)
        {
            // The client, the target or the server went away.
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task ForwardAsync(NetworkStream stream, string method, Uri uri, List<(string Name, string Value)> headers, byte[] body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), uri);
        if (body.Length > 0)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, value) in headers)
        {
            if (!HopByHop.Contains(name) && !request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await _forward.SendAsync(request, Stopping).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            await HttpMessageReader.WriteResponseAsync(stream, 502, "Bad Gateway", [], Encoding.UTF8.GetBytes(ex.Message)).ConfigureAwait(false);
            return;
        }

        using (response)
        {
            Interlocked.Increment(ref _forwarded);
            var content = await response.Content.ReadAsByteArrayAsync(Stopping).ConfigureAwait(false);
            var relayed = response.Headers.Concat(response.Content.Headers)
                .Where(h => !HopByHop.Contains(h.Key))
                .SelectMany(h => h.Value.Select(v => (h.Key, v)));
            await HttpMessageReader.WriteResponseAsync(stream, (int)response.StatusCode, response.ReasonPhrase ?? "OK", relayed, content).ConfigureAwait(false);
        }
    }

    private async Task TunnelAsync(NetworkStream stream, HttpMessageReader reader, string authority)
    {
        var colon = authority.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(authority[(colon + 1)..], out var port))
        {
            await HttpMessageReader.WriteResponseAsync(stream, 400, "Bad Request", [], []).ConfigureAwait(false);
            return;
        }

        Stream upstream;
        try
        {
            upstream = await ConnectAsync(new DnsEndPoint(authority[..colon].Trim('[', ']'), port), Stopping).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            await HttpMessageReader.WriteResponseAsync(stream, 502, "Bad Gateway", [], []).ConfigureAwait(false);
            return;
        }

        await using (upstream.ConfigureAwait(false))
        {
            Interlocked.Increment(ref _tunnels);
            await stream.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), Stopping).ConfigureAwait(false);
            var early = reader.TakeBuffered();
            if (!early.IsEmpty)
            {
                await upstream.WriteAsync(early, Stopping).ConfigureAwait(false);
            }

            using var done = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
            var up = stream.CopyToAsync(upstream, done.Token);
            var down = upstream.CopyToAsync(stream, done.Token);
            await Task.WhenAny(up, down).ConfigureAwait(false);
            await done.CancelAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(Behavior.OutgoingAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(Behavior.OutgoingAddress, 0));
            var addresses = IPAddress.TryParse(endPoint.Host, out var ip) ? [ip] : await Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken).ConfigureAwait(false);
            await socket.ConnectAsync(addresses, endPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
