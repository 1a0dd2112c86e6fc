using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// Sticky sessions through a gateway on loopback that keys its exits by the session id in the user name (Oxylabs
/// grammar) and tells the target which exit it used; the target's <c>/exit</c> echoes it back.
/// </summary>
#pragma warning disable CA1001 // Disposed through IAsyncLifetime.DisposeAsync, which xunit calls.
public sealed class GatewayIntegrationTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IAsyncLifetime
#pragma warning restore CA1001
{
    private readonly GatewayProxyServer _gateway = new("gw-s3cret");
    private ServiceProvider? _provider;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        await _gateway.DisposeAsync();
    }

    private IRequestScheduler CreateSut(Action<SessionOptions>? sessions = null, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddProxyScheduler(o =>
        {
            o.MaxConcurrency = 32;
            o.DefaultHost.MaxConcurrency = 16;
            sessions?.Invoke(o.Sessions);
        }).AddGatewayProxy(g =>
        {
            g.Address = $"http://127.0.0.1:{_gateway.Port}";
            g.Preset = GatewayPreset.Oxylabs;
            g.User = "acmeUSER";
            g.Password = _gateway.Password;
        });
        _provider = collection.BuildServiceProvider();
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    private Uri Exit(int host) => new(fixture.Server.Hosts[host], "exit");

    [Fact]
    public async Task TwentySessionsOfTwentyFive_EachStaysOnOneExit_AndNoTwoSessionsShareAConnection()
    {
        var sut = CreateSut();
        var requests = Enumerable.Range(0, 20 * 25).Select(i => new ScheduledRequest(Exit(i % 3)) { SessionKey = $"user-{i % 20}", State = i % 20 });

        var outcomes = await sut.SendAllAsync(requests).ToListAsync();

        outcomes.Should().HaveCount(500).And.OnlyContain(o => o.Response != null && o.Response.StatusCode == HttpStatusCode.OK);
        var exits = outcomes.GroupBy(o => (int)o.Request!.State!).ToDictionary(g => g.Key, g => g.Select(o => o.Response!.ReadBodyAsString()).Distinct().ToList());
        exits.Values.Should().OnlyContain(labels => labels.Count == 1, "every request of a session left through the session's exit");
        exits.Values.Select(l => l[0]).Should().OnlyHaveUniqueItems("each session has an exit of its own");
        var connections = _gateway.UsersByConnection;
        connections.Values.Should().OnlyContain(users => users.Count == 1, "a connection opened for one session's credentials is never used by another");
        connections.Values.SelectMany(u => u).Distinct().Should().HaveCount(20, "one identity (user name) per session");
    }

    [Fact]
    public async Task KilledSession_RebindsToANewExit_AndSaysSo()
    {
        var sut = CreateSut();
        var before = (await sut.SendAsync(new ScheduledRequest(Exit(0)) { SessionKey = "victim" })).ReadBodyAsString();
        (await sut.SendAsync(new ScheduledRequest(Exit(1)) { SessionKey = "victim" })).ReadBodyAsString().Should().Be(before);

        _gateway.KillLabel(before);
        var moved = await sut.SendAsync(new ScheduledRequest(Exit(0)) { SessionKey = "victim" });

        moved.SessionRebound.Should().BeTrue();
        moved.ReadBodyAsString().Should().NotBe(before).And.StartWith("exit-");
        moved.ProxiesTried.Should().HaveCount(2, "the 502 of the killed session was retried on the session's new identity");
        (await sut.SendAsync(new ScheduledRequest(Exit(1)) { SessionKey = "victim" })).ReadBodyAsString().Should().Be(moved.ReadBodyAsString(), "and it sticks there");
    }

    [Fact]
    public async Task KilledSession_WithTheFailPolicy_FailsTyped()
    {
        var sut = CreateSut(s => s.WhenBindingLost = SessionBindingPolicy.Fail);
        var label = (await sut.SendAsync(new ScheduledRequest(Exit(0)) { SessionKey = "victim" })).ReadBodyAsString();

        _gateway.KillLabel(label);

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(Exit(0)) { SessionKey = "victim" })).Should().ThrowAsync<RequestFailedException>();
        failure.Which.Reason.Should().Be(RequestFailureReason.SessionLost);
        (await sut.SendAsync(new ScheduledRequest(Exit(0)) { SessionKey = "other" })).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SessionKeysAndRenderedUserNames_AppearInNoLogMetricTagOrMessage()
    {
        var logs = new CapturingLoggerProvider();
        using var metrics = new MetricTagCapture();
        var sut = CreateSut(s => s.WhenBindingLost = SessionBindingPolicy.Fail, services => services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)));
        var texts = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var response = await sut.SendAsync(new ScheduledRequest(Exit(i % 2)) { SessionKey = $"SECRETKEY{i}" });
            texts.Add(response.ToString() + response.Proxy);
            _gateway.KillLabel(response.ReadBodyAsString());
            try
            {
                await sut.SendAsync(new ScheduledRequest(Exit(i % 2)) { SessionKey = $"SECRETKEY{i}" });
            }
            catch (RequestFailedException ex) when (ex.Reason == RequestFailureReason.SessionLost)
            {
                texts.Add(ex.ToString());
            }
        }

        texts.AddRange(sut.GetSnapshot().Proxies.Select(p => p.ToString() + p.Address));
        var all = string.Join('\n', logs.Lines.Concat(metrics.Tags).Concat(texts));

        texts.Count(t => t.Contains("RequestFailedException", StringComparison.Ordinal)).Should().Be(6, "every killed session failed, typed");
        metrics.Tags.Should().Contain(t => t.StartsWith("proxy.id=px-", StringComparison.Ordinal), "the run did record metric tags");
        all.Should().NotContain("SECRETKEY", "session keys are never logged, tagged or put in a message");
        all.Should().NotContain("acmeUSER", "nor the rendered user names, which carry the account and the session id");
        all.Should().NotContain("sessid-").And.NotContain("gw-s3cret");
    }
}
