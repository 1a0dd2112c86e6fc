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
public sealed class FaultyProxy(ProxyFault fault) : LoopbackTcpServer
{
    public ProxyFault Fault { get; } = fault;

    /// <summary>A loopback port with nothing listening: connections to it are refused.</summary>
    public static int RefusingPort() => ExternalServer.FreePort();

    protected override async Task ServeAsync(TcpClient client, int connection)
    {
        try
        {
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), Stopping).ConfigureAwait(false);
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
                    // Keep the connection open and silent; the server closes it on disposal.
                    return;
                case ProxyFault.BadGateway:
                    await stream.WriteAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway"u8.ToArray(), Stopping).ConfigureAwait(false);
                    break;
                case ProxyFault.ResetMidBody:
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial"u8.ToArray(), Stopping).ConfigureAwait(false);
                    await stream.FlushAsync(Stopping).ConfigureAwait(false);
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
