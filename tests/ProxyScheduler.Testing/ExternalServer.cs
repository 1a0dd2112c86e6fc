using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ProxyScheduler.Testing;

/// <summary>
/// A real server from the system's packages (tinyproxy, microsocks, redis-server) started on a free 127.0.0.1 port
/// and stopped by process id.
/// </summary>
public sealed class ExternalServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string? _workDirectory;
    private bool _disposed;

    private ExternalServer(Process process, int port, string? workDirectory)
    {
        _process = process;
        Port = port;
        _workDirectory = workDirectory;
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Finds an executable on PATH (and in /usr/sbin, /usr/bin), or returns null.</summary>
    public static string? Find(string name)
    {
        var paths = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]);
        return paths.Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts tinyproxy (HTTP forward proxy, optionally with basic auth) whose outgoing connections come from <paramref name="bindAddress"/>.</summary>
    public static async Task<ExternalServer> StartTinyproxyAsync(string? user = null, string? password = null, string bindAddress = "127.0.0.3")
    {
        var executable = Find("tinyproxy") ?? throw new InvalidOperationException("tinyproxy is not installed.");
        var port = FreePort();
        var directory = Directory.CreateTempSubdirectory("ps-tinyproxy-").FullName;
        var config = Path.Combine(directory, "tinyproxy.conf");
        var lines = new List<string>
        {
            $"Port {port}",
            "Listen 127.0.0.1",
            $"Bind {bindAddress}",
            "Timeout 30",
            "MaxClients 500",
            "Allow 127.0.0.1",
            "LogLevel Error",
            "DisableViaHeader No",
        };
        if (user is not null)
        {
            lines.Add($"BasicAuth {user} {password}");
        }

        await File.WriteAllLinesAsync(config, lines).ConfigureAwait(false);
        return await StartAsync(executable, ["-d", "-c", config], port, directory).ConfigureAwait(false);
    }

    /// <summary>Starts microsocks (SOCKS5, optionally with user/password) whose outgoing connections come from <paramref name="bindAddress"/>.</summary>
    public static async Task<ExternalServer> StartMicrosocksAsync(string? user = null, string? password = null, string bindAddress = "127.0.0.2")
    {
        var executable = Find("microsocks") ?? throw new InvalidOperationException("microsocks is not installed.");
        var port = FreePort();
        var args = new List<string> { "-i", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-b", bindAddress };
        if (user is not null)
        {
            args.AddRange(["-u", user, "-P", password ?? string.Empty]);
        }

        return await StartAsync(executable, args, port, null).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts redis-server on 127.0.0.1 with persistence off (no RDB snapshots, no AOF), on a free port or on
    /// <paramref name="port"/> (to restart one that was killed).
    /// </summary>
    public static async Task<ExternalServer> StartRedisAsync(int? port = null)
    {
        var executable = Find("redis-server") ?? throw new InvalidOperationException("redis-server is not installed.");
        var chosen = port ?? FreePort();
        var directory = Directory.CreateTempSubdirectory("ps-redis-").FullName;
        string[] args =
        [
            "--port", chosen.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no",
            "--protected-mode", "no", "--dir", directory, "--daemonize", "no", "--loglevel", "warning",
        ];
        return await StartAsync(executable, args, chosen, directory).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
        if (_workDirectory is not null)
        {
            try
            {
                Directory.Delete(_workDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    /// <summary>Kills the server by process id (for tests of a proxy dying mid-run).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    private static async Task<ExternalServer> StartAsync(string executable, IEnumerable<string> args, int port, string? directory)
    {
        var info = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{executable} did not start.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ExternalServer(process, port, directory);
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{Path.GetFileName(executable)} exited at start with code {process.ExitCode}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return server;
            }
            catch (SocketException) when (Environment.TickCount64 < deadline)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }
}
