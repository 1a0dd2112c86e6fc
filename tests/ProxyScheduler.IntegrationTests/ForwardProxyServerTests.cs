using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The demo's in-process forward proxy is a real one: CONNECT tunnels, 407 without credentials, no Proxy-Authorization passed on.</summary>
public sealed class ForwardProxyServerTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>
{
    [Fact]
    public async Task Connect_OpensATunnelToTheTarget_FromTheConfiguredOutgoingAddress()
    {
        await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior { OutgoingAddress = IPAddress.Parse("127.0.0.21") });
        var target = fixture.Server.Hosts[16];
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        var stream = client.GetStream();

        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{target.Port} HTTP/1.1\r\nHost: 127.0.0.1:{target.Port}\r\n\r\n"));
        var established = await ReadUntilAsync(stream, "\r\n\r\n");
        established.Should().StartWith("HTTP/1.1 200");

        // Through the tunnel, plain HTTP to the target (a TLS handshake would go the same way).
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1:{target.Port}\r\nConnection: close\r\n\r\n"));
        var response = await ReadUntilAsync(stream, "127.0.0.21");
        response.Should().StartWith("HTTP/1.1 200").And.Contain("127.0.0.21", "the target saw the proxy's outgoing address");
        proxy.Tunnels.Should().Be(1);
    }

    [Fact]
    public async Task Forward_RequiresItsCredentials_AndNeverPassesProxyAuthorizationOn()
    {
        await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior { UserName = "fp-user", Password = "fp-secret" });
        var target = new Uri(fixture.Server.Hosts[16], "echo-headers");

        using (var anonymous = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy($"http://127.0.0.1:{proxy.Port}"), UseProxy = true }))
        {
            (await anonymous.GetAsync(target)).StatusCode.Should().Be(HttpStatusCode.ProxyAuthenticationRequired);
        }

        var credentials = new NetworkCredential("fp-user", "fp-secret");
        using var authenticated = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy($"http://127.0.0.1:{proxy.Port}") { Credentials = credentials }, UseProxy = true });
        var echoed = await authenticated.GetStringAsync(target);

        echoed.Should().NotContainEquivalentOf("Proxy-Authorization").And.NotContain("fp-secret");
        proxy.Forwarded.Should().Be(1);
        proxy.Challenges.Should().BeGreaterThanOrEqualTo(1);
    }

    private static async Task<string> ReadUntilAsync(NetworkStream stream, string end)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().Contains(end, StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, cancel.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}
