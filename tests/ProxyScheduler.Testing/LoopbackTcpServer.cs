using System.Net;
using System.Net.Sockets;

namespace ProxyScheduler.Testing;

/// <summary>
/// A TCP server on a free 127.0.0.1 port for in-process test servers: accepts connections, hands each to
/// <see cref="ServeAsync"/> with its sequence number, and on disposal stops accepting and closes every connection.
/// </summary>
public abstract class LoopbackTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly List<TcpClient> _clients = [];
    private readonly Task _loop;
    private int _connections;

    protected LoopbackTcpServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Gets the number of connections accepted.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Gets a token canceled when the server stops.</summary>
    protected CancellationToken Stopping => Stop.Token;

    private CancellationTokenSource Stop { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await Stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        lock (_clients)
        {
            foreach (var client in _clients)
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

        await DisposeCoreAsync().ConfigureAwait(false);
        Stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Serves one connection; the server closes it on disposal.</summary>
    protected abstract Task ServeAsync(TcpClient client, int connection);

    /// <summary>Releases what a derived server holds, after every connection is closed.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    private async Task AcceptAsync()
    {
        while (!Stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(Stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (Stop.IsCancellationRequested)
            {
                return;
            }

            lock (_clients)
            {
                _clients.Add(client);
            }

            _ = ServeAsync(client, Interlocked.Increment(ref _connections));
        }
    }
}
