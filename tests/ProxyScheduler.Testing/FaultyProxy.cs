using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyScheduler.Testing;

/// <summary>How a <see cref="FaultyProxy"/> misbehaves.</summary>
public enum ProxyFault
{
    /// <summary>Accepts the connection, reads the request, never answers.</summary>
    Hang,

    /// <summary>Starts a 200 response with a long Content-Length, sends part of the body, then resets the connection.</summary>
    ResetMidBody,

    /// <summary>Answers every request with 502 Bad Gateway.</summary>
    BadGateway,
}

/// <summary>An in-process HTTP "proxy" on 127.0.0.1 that fails in one way, for fault injection. It never forwards anything.</summary>
public sealed class FaultyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<TcpClient> _held = [];
    private int _connections;

    public FaultyProxy(ProxyFault fault)
    {
        Fault = fault;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptLoopAsync();
    }

    public ProxyFault Fault { get; }

    public int Port { get; }

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>A loopback port with nothing listening: connections to it are refused.</summary>
    public static int RefusingPort() => ExternalServer.FreePort();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        lock (_held)
        {
            foreach (var client in _held)
            {
                client.Dispose();
            }
        }

        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
                if (Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    break;
                }
            }

            switch (Fault)
            {
                case ProxyFault.Hang:
                    lock (_held)
                    {
                        _held.Add(client);
                    }

                    return;
                case ProxyFault.BadGateway:
                    await stream.WriteAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway"u8.ToArray(), _stop.Token).ConfigureAwait(false);
                    break;
                case ProxyFault.ResetMidBody:
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial"u8.ToArray(), _stop.Token).ConfigureAwait(false);
                    await stream.FlushAsync(_stop.Token).ConfigureAwait(false);
                    client.Client.LingerState = new LingerOption(true, 0);
                    break;
            }

            client.Dispose();
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            client.Dispose();
        }
    }
}
