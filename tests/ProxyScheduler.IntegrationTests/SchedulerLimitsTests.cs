using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The scheduler against a real Kestrel server on loopback, which counts in-flight requests per host itself.</summary>
public sealed class SchedulerLimitsTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private ServiceProvider? _provider;

    private TargetServer Server => fixture.Server;

    public void Dispose() => _provider?.Dispose();

    private IRequestScheduler CreateSut(Action<ProxySchedulerOptions> configure, Action<IProxySchedulerBuilder>? build = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(configure);
        build?.Invoke(builder);
        _provider = services.BuildServiceProvider();
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    [Fact]
    public async Task SendAllAsync_FiveThousandRequestsOverTwentyHosts_NeverExceedHostOrGlobalLimitAtTheServer()
    {
        var hosts = Server.Hosts.Take(20).ToList();
        Server.SetLatency(1, 15);
        Server.ResetCounters();
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 32;
            o.DefaultHost.MaxConcurrency = 3;
        });
        var requests = Enumerable.Range(0, 5_000).Select(i => new ScheduledRequest(new Uri(hosts[Random.Shared.Next(hosts.Count)], $"?i={i}")));

        var outcomes = await sut.SendAllAsync(requests).ToListAsync();

        outcomes.Should().HaveCount(5_000);
        outcomes.Should().OnlyContain(o => o.HasResponse && o.Response!.StatusCode == HttpStatusCode.OK, "every request completes");
        hosts.Select(h => Server.Counter(h).MaxInFlight).Should().OnlyContain(max => max <= 3, "no host ever sees more than its limit");
        hosts.Max(h => Server.Counter(h).MaxInFlight).Should().Be(3, "the scheduler uses the capacity it has");
        Server.GlobalMaxInFlight.Should().BeLessThanOrEqualTo(32).And.BeGreaterThan(20, "the global limit is used, not serialized");
        hosts.Sum(h => Server.Counter(h).Received).Should().Be(5_000, "no request is sent twice");
        sut.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task SendAsync_SlowHostWithLimitOne_DoesNotHoldUpFastHosts()
    {
        var slow = Server.Hosts[20];
        var fast = Server.Hosts.Skip(21).Take(9).Append(Server.Hosts[0]).ToList();
        Server.SetLatency(slow, 2_000, 2_000);
        foreach (var host in fast)
        {
            Server.SetLatency(host, 2, 5);
        }

        Server.ResetCounters();
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 16;
            o.DefaultHost.MaxConcurrency = 4;
        }, b => b.ConfigureHost($"127.0.0.1:{slow.Port}", h => h.MaxConcurrency = 1));

        using var cancelSlow = new CancellationTokenSource();
        var slowTasks = Enumerable.Range(0, 200).Select(i => sut.SendAsync(new ScheduledRequest(new Uri(slow, $"?slow={i}")), cancelSlow.Token)).ToList();
        await Eventually.TrueAsync(() => sut.GetSnapshot().Hosts.Any(h => h.Host.EndsWith($":{slow.Port}", StringComparison.Ordinal) && h.Queued == 199), "199 slow requests queued");

        var fastTasks = Enumerable.Range(0, 500).Select(i => sut.SendAsync(new ScheduledRequest(new Uri(fast[i % fast.Count], $"?fast={i}")))).ToList();
        var fastResponses = await Task.WhenAll(fastTasks).WaitAsync(TimeSpan.FromSeconds(60));

        fastResponses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK);
        Server.Counter(slow).Completed.Should().BeLessThanOrEqualTo(2, "500 fast requests finish while the slow host works on its first ones");
        Server.Counter(slow).MaxInFlight.Should().Be(1);
        Server.GlobalMaxInFlight.Should().Be(16, "the fast hosts use every global slot the slow host does not hold");
        fast.Should().OnlyContain(h => Server.Counter(h).MaxInFlight <= 4);

        await cancelSlow.CancelAsync();
        var ended = await Task.WhenAll(slowTasks.Select(t => t.ContinueWith(x => x.Status, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(10));
        ended.Count(s => s == TaskStatus.Canceled).Should().BeGreaterThanOrEqualTo(197);
        await Eventually.TrueAsync(() => sut.GetSnapshot().Pending == 0, "every slow request ended and freed its slot");
        Server.SetLatency(slow, 0, 0);
    }

    [Fact]
    public async Task SendAsync_RedirectToAnotherHost_CountsAgainstThatHost()
    {
        var a = Server.Hosts[0];
        var b = Server.Hosts[1];
        Server.ResetCounters();
        var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 2);

        var target = new Uri(b, "status/200");
        var response = await sut.SendAsync(new ScheduledRequest(new Uri(a, $"redirect?status=307&to={Uri.EscapeDataString(target.ToString())}")));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.RequestUri.Should().Be(target);
        response.Redirects.Should().Be(1);
        Server.Counter(a).Received.Should().Be(1);
        Server.Counter(b).Received.Should().Be(1);
    }

    [Fact]
    public async Task SendAsync_LargeBodyOverCap_FailsAndTheConnectionIsNotReusedBroken()
    {
        var host = Server.Hosts[2];
        var sut = CreateSut(o => o.MaxResponseBodySize = 100_000);

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest(new Uri(host, "bytes/200000"))))
            .Should().ThrowAsync<RequestFailedException>();
        failure.Which.Reason.Should().Be(RequestFailureReason.ResponseTooLarge);

        var ok = await sut.SendAsync(new ScheduledRequest(new Uri(host, "bytes/99999")));
        ok.Body.Length.Should().Be(99_999);
    }

    [Fact]
    public async Task SendAsync_ConnectionRefused_TypedTransportErrorAfterRetries()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var sut = CreateSut(o =>
        {
            o.Retry.MaxRetries = 2;
            o.Retry.BaseDelay = TimeSpan.FromMilliseconds(10);
        });

        var failure = await FluentActions.Awaiting(() => sut.SendAsync(new ScheduledRequest($"http://127.0.0.1:{port}/")))
            .Should().ThrowAsync<RequestFailedException>();

        failure.Which.Reason.Should().Be(RequestFailureReason.TransportError);
        failure.Which.Attempts.Should().Be(3);
    }
}
