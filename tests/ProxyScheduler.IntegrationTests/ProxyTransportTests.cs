using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Testing;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// The per-identity transport through real proxies on loopback: tinyproxy (HTTP, basic auth) and microsocks (SOCKS5).
/// Each proxy binds its outgoing connections to its own loopback address, so the target tells who connected.
/// </summary>
public sealed class ProxyTransportTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private readonly ServiceProvider _provider = CreateProvider();

    private Uri Target => fixture.Server.Hosts[5];

    public void Dispose() => _provider.Dispose();

    private static ServiceProvider CreateProvider()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler();
        return services.BuildServiceProvider();
    }

    private async Task<HttpResponseMessage> SendAsync(ProxyEndpoint endpoint, string path, bool register = true)
    {
        var registry = _provider.GetRequiredService<ProxyIdentityRegistry>();
        var name = register ? registry.Register(endpoint) : ProxyIdentityRegistry.ClientName(endpoint);
        var transport = new HttpTransport(_provider.GetRequiredService<IHttpMessageHandlerFactory>());
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Target, path));
        return await transport.SendViaProxyAsync(name, request, CancellationToken.None);
    }

    [SkippableFact]
    public async Task SendViaProxy_TinyproxyWithCredentials_ReachesTargetThroughTheProxy()
    {
        RealServer.Require("tinyproxy");
        await using var proxy = await ExternalServer.StartTinyproxyAsync("alice", "s3cret", bindAddress: "127.0.0.3");
        var endpoint = ProxyEndpoint.Parse($"http://alice:s3cret@127.0.0.1:{proxy.Port}");

        using var whoami = await SendAsync(endpoint, "whoami");
        using var headers = await SendAsync(endpoint, "echo-headers");

        whoami.StatusCode.Should().Be(HttpStatusCode.OK);
        (await whoami.Content.ReadAsStringAsync()).Should().Be("127.0.0.3", "the target was reached from the proxy's address");
        var seen = await headers.Content.ReadAsStringAsync();
        seen.Should().Contain("Via: ", "tinyproxy adds a Via header");
        seen.Should().NotContainEquivalentOf("Proxy-Authorization", "proxy credentials never reach the target");
    }

    [SkippableFact]
    public async Task SendViaProxy_TinyproxyWithWrongPassword_IsRefusedByTheProxyAndNothingReachesTheTarget()
    {
        RealServer.Require("tinyproxy");
        await using var proxy = await ExternalServer.StartTinyproxyAsync("alice", "s3cret");
        var endpoint = ProxyEndpoint.Parse($"http://alice:wrong@127.0.0.1:{proxy.Port}");
        var before = fixture.Server.Counter(Target).Received;

        using var response = await SendAsync(endpoint, "whoami");

        // tinyproxy 1.11 refuses plain-HTTP requests with 401 and CONNECT tunnels with 407.
        response.StatusCode.Should().BeOneOf(HttpStatusCode.ProxyAuthenticationRequired, HttpStatusCode.Unauthorized);
        fixture.Server.Counter(Target).Received.Should().Be(before);
    }

    [SkippableFact]
    public async Task SendViaProxy_Microsocks_ReachesTargetThroughSocks5WithCredentials()
    {
        RealServer.Require("microsocks");
        await using var proxy = await ExternalServer.StartMicrosocksAsync("bob", "pa55", bindAddress: "127.0.0.2");
        var endpoint = ProxyEndpoint.Parse($"socks5://bob:pa55@127.0.0.1:{proxy.Port}");

        using var whoami = await SendAsync(endpoint, "whoami");

        whoami.StatusCode.Should().Be(HttpStatusCode.OK);
        (await whoami.Content.ReadAsStringAsync()).Should().Be("127.0.0.2");
    }

    [Fact]
    public async Task SendViaProxy_UnregisteredIdentity_FailsClosedAndNeverGoesDirect()
    {
        var endpoint = ProxyEndpoint.Parse("http://127.0.0.1:9");
        var before = fixture.Server.Counter(Target).Received;

        var failure = await FluentActions.Awaiting(() => SendAsync(endpoint, "whoami", register: false)).Should().ThrowAsync<HttpRequestException>();

        failure.Which.Message.Should().Contain("never goes out directly");
        fixture.Server.Counter(Target).Received.Should().Be(before, "nothing reached the target directly");
    }
}
