using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using ProxyScheduler.Classification;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Proxies;

/// <summary>Cancellation, per-host classification, and changes of the pool's membership while it works.</summary>
public sealed class ProxyPoolBehaviourTests
{
    private static readonly ProxyEndpoint P1 = ProxyEndpoint.Parse("http://10.0.1.1:8080");
    private static readonly ProxyEndpoint P2 = ProxyEndpoint.Parse("http://10.0.2.1:8080");
    private static readonly ProxyEndpoint P3 = ProxyEndpoint.Parse("http://10.0.3.1:8080");

    [Fact]
    public async Task CallerCancellation_NeverCountsAgainstTheProxy()
    {
        using var sut = new ProxyTestScheduler([P1], o => o.ProxyPool.QuarantineAfter = 1);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (_, _) =>
        {
            await gate.Task;
            return FakeHandler.Response(HttpStatusCode.OK);
        };

        for (var i = 0; i < 5; i++)
        {
            using var cts = new CancellationTokenSource();
            var send = sut.Scheduler.SendAsync(new ScheduledRequest($"http://a.test/{i}"), cts.Token);
            await Eventually.TrueAsync(() => sut.Sent.Count == i + 1, "the attempt is in flight through the proxy");
            await cts.CancelAsync();
            await FluentActions.Awaiting(() => send.WaitAsync(TimeSpan.FromSeconds(5))).Should().ThrowAsync<OperationCanceledException>();
        }

        var proxy = sut.Proxy(P1.Id);
        proxy.State.Should().Be(ProxyHealthState.Healthy);
        proxy.ConsecutiveFailures.Should().Be(0);
        proxy.SuccessRate.Should().Be(1.0);
        proxy.InFlight.Should().Be(0, "a canceled attempt gives its proxy permit back");
    }

    [Fact]
    public async Task BlockMarkers_PerHostPattern_OnlyThatHostCountsTheMarkerAsABlock()
    {
        using var sut = new ProxyTestScheduler([P1, P2], build: b => b.ConfigureHost("shop.test", h => h.BlockMarkers = ["captcha"]));
        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response(HttpStatusCode.OK, "<p>captcha</p>"));

        var news = await sut.Scheduler.SendAsync(new ScheduledRequest("http://news.test/"));
        var shop = await sut.Scheduler.SendAsync(new ScheduledRequest("http://shop.test/") { });

        news.Class.Should().Be(ResponseClass.Success);
        news.Attempts.Should().Be(1);
        shop.Class.Should().Be(ResponseClass.Blocked);
        shop.ProxiesTried.Should().BeEquivalentTo([P1.Id, P2.Id], "a block is retried on another proxy, and each proxy is tried once");
        shop.Attempts.Should().Be(2, "with every proxy blocked, the last answer is returned as it is");
    }

    [Fact]
    public async Task RegisteredClassifier_ChosenByNameForAHostPattern()
    {
        using var sut = new ProxyTestScheduler([P1], build: b => b.AddResponseClassifier<TeapotClassifier>().ConfigureHost("*.teapot.test", h => h.Classifier = "Teapot"));
        sut.Behavior = (_, _) => Task.FromResult(FakeHandler.Response((HttpStatusCode)418, "short and stout"));

        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://pot.teapot.test/"))).Class.Should().Be(ResponseClass.Fatal);
        (await sut.Scheduler.SendAsync(new ScheduledRequest("http://other.test/"))).Class.Should().Be(ResponseClass.Success);
    }

    [Fact]
    public void UnknownClassifierName_FailsAtStartNamingTheSetting() =>
        FluentActions.Invoking(() => new ProxyTestScheduler([P1], build: b => b.ConfigureHost("a.test", h => h.Classifier = "Nope")).Dispose())
            .Should().Throw<InvalidOperationException>().WithMessage("*Hosts:a.test:Classifier*'Nope'*Default*");

    [Fact]
    public async Task ProviderChange_NewProxiesJoin_RemovedOnesDrainTheirRequestsAndLeave()
    {
        var provider = new ChangingProvider([P1, P2]);
        using var sut = new ProxyTestScheduler([], build: b => b.AddProxyProvider(provider));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (id, _) =>
        {
            if (id == P1.Id)
            {
                await gate.Task;
            }

            return FakeHandler.Response(HttpStatusCode.OK);
        };
        var onP1 = new List<Task<ScheduledResponse>>();
        for (var i = 0; i < 40 && sut.SentThrough(P1.Id) == 0; i++)
        {
            onP1.Add(sut.Scheduler.SendAsync(new ScheduledRequest($"http://a{i}.test/")));
            await Eventually.TrueAsync(() => sut.Sent.Count == i + 1, "each request is sent");
        }

        sut.SentThrough(P1.Id).Should().Be(1);
        provider.Set([P2, P3]);

        sut.Proxy(P1.Id).State.Should().Be(ProxyHealthState.Draining, "it still carries a request");
        for (var i = 0; i < 40; i++)
        {
            (await sut.Scheduler.SendAsync(new ScheduledRequest($"http://b{i}.test/"))).Proxy!.Id.Should().NotBe(P1.Id, "a draining proxy takes no new attempts");
        }

        sut.SentThrough(P3.Id).Should().BePositive("a new proxy joins at once");
        gate.SetResult();
        await Task.WhenAll(onP1).WaitAsync(TimeSpan.FromSeconds(5));
        sut.Scheduler.GetSnapshot().Proxies.Select(p => p.Id).Should().BeEquivalentTo([P2.Id, P3.Id], "the drained proxy left");
        var registry = sut.Get<ProxyIdentityRegistry>();
        registry.Count.Should().Be(2, "the drained proxy's transport identity was retired with it");
        registry.TryGet(ProxyIdentityRegistry.ClientName(P1), out _).Should().BeFalse("its client name now fails closed");
    }

    [Fact]
    public async Task MaxProxies_BoundsTheIdentities_AtStartAndOnReload()
    {
        FluentActions.Invoking(() => new ProxyTestScheduler([P1, P2, P3], o => o.ProxyPool.MaxProxies = 2).Dispose())
            .Should().Throw<InvalidOperationException>().WithMessage("*3 proxies*MaxProxies (2)*");

        var provider = new ChangingProvider([P1, P2]);
        using var sut = new ProxyTestScheduler([], o => o.ProxyPool.MaxProxies = 2, b => b.AddProxyProvider(provider));
        provider.Set([P1, P2, P3]);
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"));

        sut.Scheduler.GetSnapshot().Proxies.Select(p => p.Id).Should().BeEquivalentTo([P1.Id, P2.Id], "a list past the cap is rejected and the pool keeps its proxies");
        sut.Get<ProxyIdentityRegistry>().Count.Should().Be(2);
    }

    [Fact]
    public async Task ProviderChange_ToAnEmptyList_FailsRequestsInsteadOfSendingThemDirectly()
    {
        var provider = new ChangingProvider([P1]);
        using var sut = new ProxyTestScheduler([], build: b => b.AddProxyProvider(provider));
        provider.Set([]);

        var failure = await FluentActions.Awaiting(() => sut.Scheduler.SendAsync(new ScheduledRequest("http://a.test/"))).Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.NoMatchingProxy);
        failure.Which.Message.Should().Contain("never goes out directly");
        sut.Direct.Count.Should().Be(0);
    }

    [Fact]
    public async Task LatencyPerHost_SteersSelectionForThatHostOnly()
    {
        var fast = new ProxyEndpoint(ProxyScheme.Http, "10.0.1.1", 8080) { Tags = new Dictionary<string, string> { ["name"] = "fast" } };
        var slow = new ProxyEndpoint(ProxyScheme.Http, "10.0.2.1", 8080) { Tags = new Dictionary<string, string> { ["name"] = "slow" } };
        using var sut = new ProxyTestScheduler([fast, slow]);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sut.Behavior = async (id, request) =>
        {
            if (id == slow.Id && request.RequestUri!.Host == "far.test")
            {
                await gate.Task;
            }

            return FakeHandler.Response(HttpStatusCode.OK);
        };

        // Teach the pool: "slow" reaches near.test at once, takes 3 s (fake time) to reach far.test, then near.test at
        // once again (a pair's own record starts when its latency stands out from the proxy's overall one).
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://near.test/") { Proxy = ProxyRequirement.WithTag("name", "slow") });
        var teach = sut.Scheduler.SendAsync(new ScheduledRequest("http://far.test/") { Proxy = ProxyRequirement.WithTag("name", "slow") });
        await Eventually.TrueAsync(() => sut.SentThrough(slow.Id) == 2, "the lesson is in flight");
        sut.Time.Advance(TimeSpan.FromSeconds(3));
        gate.SetResult();
        await teach.WaitAsync(TimeSpan.FromSeconds(5));
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://near.test/") { Proxy = ProxyRequirement.WithTag("name", "slow") });
        await sut.Scheduler.SendAsync(new ScheduledRequest("http://near.test/") { Proxy = ProxyRequirement.WithTag("name", "fast") });
        var taught = sut.Sent.Count;

        for (var i = 0; i < 40; i++)
        {
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://far.test/"));
            await sut.Scheduler.SendAsync(new ScheduledRequest("http://near.test/"));
        }

        var after = sut.Sent.Skip(taught).ToList();
        after.Count(s => s.ProxyId == slow.Id && s.Uri.Host == "far.test").Should().BeLessThanOrEqualTo(4,
            "the selector prefers the proxy that reaches far.test fast");
        after.Count(s => s.ProxyId == slow.Id && s.Uri.Host == "near.test").Should().BeGreaterThan(5,
            "the slow proxy is as fast as the other to near.test, and its slowness to far.test does not count there");
    }

    [Fact]
    public async Task ConfigurationReload_ChangesThePool()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyScheduler:Proxies:0"] = "10.0.1.1:8080",
        }).Build();
        var services = new ServiceCollection();
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"));
        await using var provider = services.BuildServiceProvider();
        var sut = provider.GetRequiredService<IRequestScheduler>();
        sut.GetSnapshot().Proxies.Should().ContainSingle().Which.Id.Should().Be(P1.Id);

        configuration["ProxyScheduler:Proxies:1"] = "10.0.2.1:8080";
        configuration.Reload();

        await Eventually.TrueAsync(() => sut.GetSnapshot().Proxies.Count == 2, "the reloaded list is applied");
        sut.GetSnapshot().Proxies.Select(p => p.Id).Should().BeEquivalentTo([P1.Id, P2.Id]);
    }

    private sealed class TeapotClassifier : IResponseClassifier
    {
        public string Name => "Teapot";

        public ResponseClass Classify(in ResponseClassificationContext context) =>
            context.StatusCode == (HttpStatusCode)418 ? ResponseClass.Fatal : ResponseClass.Success;
    }

#pragma warning disable CA1001 // Test double; its token sources live as long as the test.
    private sealed class ChangingProvider(IReadOnlyList<ProxyEndpoint> initial) : IProxyProvider
#pragma warning restore CA1001
    {
        private IReadOnlyList<ProxyEndpoint> _proxies = initial;
        private CancellationTokenSource _changed = new();

        public string Name => "test";

        public IReadOnlyList<ProxyEndpoint> GetProxies() => _proxies;

        public IChangeToken GetChangeToken() => new CancellationChangeToken(_changed.Token);

        public void Set(IReadOnlyList<ProxyEndpoint> proxies)
        {
            _proxies = proxies;
            var previous = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
            previous.Cancel();
        }
    }
}
