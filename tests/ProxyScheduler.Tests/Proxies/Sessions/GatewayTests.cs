using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Proxies.Sessions.Internal;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Proxies.Sessions;

public sealed class GatewayTests
{
    private static GatewayDefinition Gateway(GatewayPreset preset, Action<GatewayProxyOptions>? configure = null)
    {
        var options = new GatewayProxyOptions { Address = "http://gate.test:7000", Preset = preset, User = "acme", Password = "pw" };
        options.Parameters["zone"] = "resi";
        options.Parameters["group"] = "RESIDENTIAL";
        configure?.Invoke(options);
        return new GatewayDefinition(options);
    }

    private static Dictionary<string, string> Tags(params (string, string)[] tags) => tags.ToDictionary(t => t.Item1, t => t.Item2);

    [Theory]
    [InlineData("BrightData", "brd-customer-acme-zone-resi", "brd-customer-acme-zone-resi-country-de-session-S1", "pw")]
    [InlineData("Oxylabs", "customer-acme", "customer-acme-cc-DE-sessid-S1-sesstime-30", "pw")]
    [InlineData("Soax", "package-acme", "package-acme-country-de-sessionid-S1-sessionlength-3600", "pw")]
    [InlineData("Geonode", "geonode_acme", "geonode_acme-country-de-session-S1-lifetime-1440", "pw")]
    [InlineData("Apify", "groups-RESIDENTIAL", "groups-RESIDENTIAL,session-S1,country-DE", "pw")]
    public void Presets_RenderTheProvidersGrammar(string preset, string rotating, string sticky, string password)
    {
        var sut = Gateway(GatewayPreset.FromName(preset));

        sut.Render(null, null).Should().Be((rotating, password));
        sut.Render("S1", Tags(("country", "de"))).User.Should().Be(sticky);
    }

    [Fact]
    public void IPRoyal_PutsItsParametersInThePassword()
    {
        var sut = Gateway(GatewayPreset.IPRoyal, o => o.SessionLifetime = TimeSpan.FromMinutes(30));

        sut.Render(null, null).Should().Be(("acme", "pw"));
        sut.Render("abcd1234", Tags(("country", "de"))).Should().Be(("acme", "pw_country-de_session-abcd1234_lifetime-30m"));
    }

    [Fact]
    public void GenericTemplate_OptionalGroupsDropWithoutAValue_RequiredOnesFail()
    {
        var sut = Gateway(GatewayPreset.Generic, o => o.UserNameTemplate = "user-{user}[-cc-{country}][-sid-{session}]-z-{zone}");

        sut.Render(null, null).User.Should().Be("user-acme-z-resi");
        sut.Render("x1y2z3w4", Tags(("country", "fr"))).User.Should().Be("user-acme-cc-fr-sid-x1y2z3w4-z-resi");
        FluentActions.Invoking(() => Gateway(GatewayPreset.Generic, o => o.UserNameTemplate = "u-{user}-{region}[-s-{session}]"))
            .Should().Throw<InvalidOperationException>().WithMessage("*'{region}'*not optional*");
    }

    [Theory]
    [InlineData("u-{user", "no closing")]
    [InlineData("u-{}", "empty")]
    [InlineData("u-[a[b]]", "nested")]
    [InlineData("u-]x", "no opening")]
    [InlineData("u-[x", "no closing ']'")]
    public void Template_Malformed_FailsNamingTheProblem(string template, string problem) =>
        FluentActions.Invoking(() => CredentialTemplate.Parse(template, "T")).Should().Throw<FormatException>().WithMessage($"*{problem}*");

    [Fact]
    public void Gateway_WithoutASessionPlaceholder_IsRejected() =>
        FluentActions.Invoking(() => Gateway(GatewayPreset.Generic, o => o.UserNameTemplate = "{user}")).Should().Throw<ArgumentException>().WithMessage("*{session}*");

    [Fact]
    public void SessionIds_FollowEachPresetsRules()
    {
        foreach (var preset in GatewayPreset.All)
        {
            for (var i = 0; i < 20; i++)
            {
                preset.ValidateSessionId(preset.NewSessionId()).Should().BeNull($"{preset} generates ids it accepts");
            }
        }

        GatewayPreset.IPRoyal.ValidateSessionId("abc").Should().Contain("exactly 8");
        GatewayPreset.IPRoyal.ValidateSessionId("abcd-123").Should().Contain("only letters and digits").And.NotContain("abcd-123");
        GatewayPreset.Apify.ValidateSessionId("job_1.a~b").Should().BeNull();
        GatewayPreset.Apify.ValidateSessionId(new string('a', 51)).Should().Contain("1 to 50");
        GatewayPreset.Oxylabs.ValidateSessionId("has space").Should().NotBeNull();
        FluentActions.Invoking(() => GatewayPreset.FromName("Nope")).Should().Throw<ArgumentException>().WithMessage("*BrightData*Apify*");
    }

    private static ProxyTestScheduler CreateSut(Action<GatewayProxyOptions>? gateway = null, Action<SessionOptions>? sessions = null, Action<ProxySchedulerOptions>? configure = null) =>
        new([], o =>
        {
            o.DefaultHost.MaxConcurrency = 100;
            o.MaxConcurrency = 100;
            sessions?.Invoke(o.Sessions);
            configure?.Invoke(o);
        }, b => b.AddGatewayProxy(g =>
        {
            g.Address = "http://gate.test:7000";
            g.Preset = GatewayPreset.Oxylabs;
            g.User = "acme";
            g.Password = "pw";
            gateway?.Invoke(g);
        }));

    [Fact]
    public async Task Sessions_EachGetTheirOwnRenderedIdentity_AndKeepIt()
    {
        using var sut = CreateSut();
        var users = new ConcurrentDictionary<int, ConcurrentBag<string>>();

        for (var round = 0; round < 5; round++)
        {
            for (var s = 0; s < 5; s++)
            {
                var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = $"s{s}" });
                users.GetOrAdd(s, static _ => []).Add(sut.UserNameOf(response.Proxy!.Id)!);
            }
        }

        users.Values.Should().OnlyContain(u => u.Distinct().Count() == 1, "a session keeps its rendered identity");
        var perSession = users.Values.Select(u => u.First()).ToList();
        perSession.Should().OnlyHaveUniqueItems("each session has its own identity").And.OnlyContain(u => u.StartsWith("customer-acme-sessid-", StringComparison.Ordinal) && u.EndsWith("-sesstime-30", StringComparison.Ordinal));

        var rotating = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));
        sut.UserNameOf(rotating.Proxy!.Id).Should().Be("customer-acme", "a request without a session uses the gateway's rotating identity");
        var german = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { Proxy = ProxyRequirement.WithTag("country", "de") });
        sut.UserNameOf(german.Proxy!.Id).Should().Be("customer-acme-cc-DE", "requested tags are rendered into the credentials");
        rotating.Proxy.ToString().Should().NotContain("acme").And.NotContain("pw");
    }

    [Fact]
    public async Task GatewayLimit_CoversEveryRenderedIdentity()
    {
        using var sut = CreateSut(g => g.MaxConcurrency = 3);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (_, _) =>
        {
            await gate.Task;
            return FakeHandler.Response(HttpStatusCode.OK);
        };

        var sends = Enumerable.Range(0, 10).Select(i => sut.Scheduler.SendAsync(new ScheduledRequest($"http://h{i}.test/") { SessionKey = $"s{i}" })).ToList();
        await Eventually.TrueAsync(() => sut.Sent.Count == 3, "three sessions go through the gateway");
        await Eventually.StaysFalseAsync(() => sut.Sent.Count > 3, "the gateway's limit holds across its sessions' identities");
        gate.SetResult();

        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(10));
        sut.Sent.Select(s => s.ProxyId).Distinct().Should().HaveCount(10, "each session still has its own identity");
    }

    [Fact]
    public async Task Session_RotatesBeforeTheProvidersLifetime()
    {
        using var sut = CreateSut(g => g.SessionLifetime = TimeSpan.FromMinutes(10), s => s.IdleTimeout = TimeSpan.FromHours(1));
        var first = sut.UserNameOf((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id);

        sut.Time.Advance(TimeSpan.FromMinutes(8));
        sut.UserNameOf((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id).Should().Be(first);
        sut.Time.Advance(TimeSpan.FromMinutes(1.5));
        var rotated = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" });

        rotated.SessionRebound.Should().BeTrue("at 90 % of the provider's 10 minutes the session takes a new id");
        sut.UserNameOf(rotated.Proxy!.Id).Should().NotBe(first).And.EndWith("-sesstime-10");
    }

    [Fact]
    public async Task Session_RotatesBeforeTheProviderDropsItForIdleness()
    {
        using var sut = CreateSut(g => g.SessionIdleTimeout = TimeSpan.FromMinutes(5), s => s.IdleTimeout = TimeSpan.FromHours(1));
        var first = sut.UserNameOf((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id);

        sut.Time.Advance(TimeSpan.FromMinutes(4));
        sut.UserNameOf((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id).Should().Be(first, "used again within the provider's idle time");
        sut.Time.Advance(TimeSpan.FromMinutes(4.6));

        sut.UserNameOf((await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id).Should().NotBe(first, "idle for 90 % of the provider's 5 minutes");
    }

    [Fact]
    public void GatewayOptions_Invalid_FailAtOnceNamingTheSettingNotTheSecret()
    {
        FluentActions.Invoking(() => Gateway(GatewayPreset.Oxylabs, o => o.Address = "http://user:hunter2@gate.test:7000")).Should().Throw<ArgumentException>()
            .Where(e => e.Message.Contains("Address", StringComparison.Ordinal) && !e.Message.Contains("hunter2", StringComparison.Ordinal));
        FluentActions.Invoking(() => Gateway(GatewayPreset.Oxylabs, o => o.SessionLifetime = TimeSpan.FromHours(2))).Should().Throw<ArgumentException>().WithMessage("*SessionLifetime*Oxylabs*");
        FluentActions.Invoking(() => Gateway(GatewayPreset.Oxylabs, o => o.SessionIdleTimeout = TimeSpan.FromHours(1))).Should().Throw<ArgumentException>().WithMessage("*SessionIdleTimeout*");
        FluentActions.Invoking(() => Gateway(GatewayPreset.BrightData, o => o.Parameters.Remove("zone"))).Should().Throw<InvalidOperationException>().WithMessage("*'{zone}'*");
    }

    [Fact]
    public async Task SessionKeyAsSessionId_IsRenderedVerbatim_AndABadOneIsRejectedAtOnce()
    {
        using var sut = CreateSut(g =>
        {
            g.Preset = GatewayPreset.IPRoyal;
            g.UseSessionKeyAsSessionId = true;
        });

        var response = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "Ab12Cd34" });
        sut.Get<ProxyScheduler.Proxies.Internal.ProxyIdentityRegistry>().TryGet(ProxyScheduler.Proxies.Internal.ProxyIdentityRegistry.ClientNamePrefix + response.Proxy!.Id, out var endpoint).Should().BeTrue();
        endpoint!.GetCredentials()!.Password.Should().Contain("_session-Ab12Cd34");

        FluentActions.Invoking(() => (object)sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "user-42" }))
            .Should().Throw<ArgumentException>().Where(e => e.Message.Contains("exactly 8", StringComparison.Ordinal) && !e.Message.Contains("user-42", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StrictMode_AnExitChangeIsASessionFailure()
    {
        using var sut = CreateSut(g => g.ExitHeader = "X-Exit");
        var exit = "203.0.113.1";
        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.OK, "ok", r => r.Headers.Add("X-Exit", exit)));
        var first = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" });
        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" })).Proxy!.Id.Should().Be(first.Proxy!.Id);

        exit = "203.0.113.99";
        var moved = await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = "s" });

        moved.SessionRebound.Should().BeTrue("the provider moved the exit under the session");
        moved.Proxy!.Id.Should().NotBe(first.Proxy.Id);
        moved.ProxiesTried.Should().HaveCount(2);
    }

    [Fact]
    public async Task GatewayDown_IsLearnedByTheGateway_NotJustBySessionIdentities()
    {
        // Fail fast: with the default (wait for the probe), these requests would wait out the quarantine on fake time.
        using var sut = CreateSut(sessions: s => s.WhenBindingLost = SessionBindingPolicy.Rebind, configure: o => o.ProxyPool.WhenUnavailable = ProxyUnavailableBehavior.FailFast);
        sut.Behavior = (_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused"));

        for (var i = 0; i < 5; i++)
        {
            await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/") { SessionKey = $"s{i}" }))
                .Should().ThrowAsync<RequestFailedException>();
        }

        sut.Scheduler.GetSnapshot().Proxies.Should().Contain(p => p.State == ProxyHealthState.Quarantined && p.Address.Contains("gate.test", StringComparison.Ordinal),
            "failures of its rendered identities quarantine the gateway itself");
    }
}
