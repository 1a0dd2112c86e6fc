using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The span tree of a request: request span, a child per attempt, the HttpClient spans beneath.</summary>
public sealed class TracingTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private ServiceProvider? _provider;

    public void Dispose() => _provider?.Dispose();

    [Fact]
    public async Task Request_HasASpanPerAttempt_WithTheHttpClientSpansBeneath_AndNoSecrets()
    {
        var host = fixture.Server.Hosts[5];
        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.Retry.MaxRetries = 1;
            o.Retry.BaseDelay = TimeSpan.FromMilliseconds(1);
        });
        _provider = services.BuildServiceProvider();
        var sut = _provider.GetRequiredService<IRequestScheduler>();
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "ProxyScheduler" or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        using var parent = new Activity("test").Start();

        var response = await sut.SendAsync(new ScheduledRequest(new Uri(host, "status/503?token=hunter2")));
        parent.Stop();

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        var mine = stopped.Where(a => a.TraceId == parent.TraceId).ToList();
        var request = mine.Should().ContainSingle(a => a.OperationName == "ProxyScheduler.Request").Subject;
        request.ParentSpanId.Should().Be(parent.SpanId, "the request span joins the caller's trace");
        request.GetTagItem("http.response.status_code").Should().Be(503);
        request.GetTagItem("proxyscheduler.attempts").Should().Be(2);
        var attempts = mine.Where(a => a.OperationName == "ProxyScheduler.Attempt").OrderBy(a => a.StartTimeUtc).ToList();
        attempts.Should().HaveCount(2).And.OnlyContain(a => a.ParentSpanId == request.SpanId);
        attempts.Select(a => a.GetTagItem("proxyscheduler.attempt")).Should().Equal(1, 2);
        attempts.Should().OnlyContain(a => Equals(a.GetTagItem("proxyscheduler.class"), "throttled") && Equals(a.GetTagItem("proxyscheduler.proxy.id"), "direct"));
        var http = mine.Where(a => a.Source.Name == "System.Net.Http").ToList();
        http.Should().HaveCount(2);
        http.Select(a => a.ParentSpanId).Should().BeEquivalentTo(attempts.Select(a => a.SpanId), "each HttpClient span is beneath its attempt");
        mine.Where(a => a.Source.Name == "ProxyScheduler").SelectMany(a => a.TagObjects).Select(t => t.Value?.ToString() ?? string.Empty)
            .Should().NotContain(v => v.Contains("hunter2", StringComparison.Ordinal), "URIs in spans are redacted");
    }
}
