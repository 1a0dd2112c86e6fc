using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProxyScheduler.Testing;

/// <summary>
/// An in-process residential-style gateway on 127.0.0.1 for tests: an HTTP forward proxy (plain-http targets) that
/// authenticates by user name (407 first, as real gateways do), reads the session id out of the user name with
/// <see cref="SessionPattern"/>, gives each session id its own exit label, and forwards the request to the target with
/// the label in an <c>X-Exit-Label</c> header. It records which user names each TCP connection carried, and a session
/// can be killed (its requests then get 502), as a provider drops a session.
/// </summary>
public sealed partial class GatewayProxyServer : LoopbackTcpServer
{
    private readonly HttpClient _forward = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });
    private readonly ConcurrentDictionary<string, string> _labels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _killed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, ConcurrentDictionary<string, bool>> _usersByConnection = new();
    private int _labelsIssued;

    public GatewayProxyServer(string password) => Password = password;

    public string Password { get; }

    /// <summary>Gets the user names each connection carried, by connection number.</summary>
    public IReadOnlyDictionary<int, IReadOnlyCollection<string>> UsersByConnection =>
        _usersByConnection.ToDictionary(p => p.Key, p => (IReadOnlyCollection<string>)[.. p.Value.Keys]);

    /// <summary>Kills the session whose exit label is <paramref name="label"/>: its requests get 502 from now on.</summary>
    public void KillLabel(string label)
    {
        foreach (var (session, l) in _labels)
        {
            if (l == label)
            {
                _killed[session] = true;
            }
        }
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        _forward.Dispose();
        await base.DisposeCoreAsync().ConfigureAwait(false);
    }

    [GeneratedRegex("sessid-([A-Za-z0-9]+)")]
    private static partial Regex SessionPattern();

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
                var auth = HttpMessageReader.Header(headers, "Proxy-Authorization");
                if (auth is null || !auth.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
                {
                    await HttpMessageReader.WriteResponseAsync(stream, 407, "Proxy Authentication Required", [("Proxy-Authenticate", "Basic realm=\"gateway\"")], []).ConfigureAwait(false);
                    continue;
                }

                var credentials = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..].Trim()));
                var user = credentials[..credentials.IndexOf(':', StringComparison.Ordinal)];
                var password = credentials[(credentials.IndexOf(':', StringComparison.Ordinal) + 1)..];
                if (password != Password)
                {
                    await HttpMessageReader.WriteResponseAsync(stream, 407, "Proxy Authentication Required", [("Proxy-Authenticate", "Basic realm=\"gateway\"")], []).ConfigureAwait(false);
                    continue;
                }

                _usersByConnection.GetOrAdd(connection, static _ => new())[user] = true;
                var session = SessionPattern().Match(user) is { Success: true } m ? m.Groups[1].Value : null;
                if (session is not null && _killed.ContainsKey(session))
                {
                    await HttpMessageReader.WriteResponseAsync(stream, 502, "Bad Gateway", [], "session expired"u8.ToArray()).ConfigureAwait(false);
                    continue;
                }

                var label = session is null
                    ? $"rotating-{Interlocked.Increment(ref _labelsIssued)}"
                    : _labels.GetOrAdd(session, _ => $"exit-{Interlocked.Increment(ref _labelsIssued)}");
                using var forward = new HttpRequestMessage(new HttpMethod(method), target);
                forward.Headers.TryAddWithoutValidation("X-Exit-Label", label);
                if (body.Length > 0)
                {
                    forward.Content = new ByteArrayContent(body);
                }

                using var response = await _forward.SendAsync(forward, Stopping).ConfigureAwait(false);
                var content = await response.Content.ReadAsByteArrayAsync(Stopping).ConfigureAwait(false);
                await HttpMessageReader.WriteResponseAsync(stream, (int)response.StatusCode, response.ReasonPhrase ?? "OK", [("X-Exit-Label", label)], content).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or HttpRequestException)
        {
            // The client or the test went away.
        }
        finally
        {
            client.Dispose();
        }
    }
}
