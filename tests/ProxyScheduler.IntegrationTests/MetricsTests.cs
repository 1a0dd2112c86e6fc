using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The scheduler's instruments move as they should in a scripted run against a loopback Kestrel target.</summary>
public sealed class MetricsTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private ServiceProvider? _provider;

    private TargetServer Server => fixture.Server;

    public void Dispose() => _provider?.Dispose();

    [Fact]
    public async Task ScriptedRun_MovesRequestAttemptRetryGaugeAndProcessingInstruments_WithBoundedTags()
    {
        var host = Server.Hosts[4];
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddProxyScheduler(o =>
        {
            o.Retry.MaxRetries = 1;
            o.Retry.BaseDelay = TimeSpan.FromMilliseconds(1);
        });
        _provider = services.BuildServiceProvider();
        var factory = _provider.GetRequiredService<IMeterFactory>();
        var sut = _provider.GetRequiredService<IRequestScheduler>();

        var longs = new ConcurrentQueue<(string Name, long Value, KeyValuePair<string, object?>[] Tags)>();
        var doubles = new ConcurrentQueue<(string Name, double Value, KeyValuePair<string, object?>[] Tags)>();
        var ints = new ConcurrentQueue<(string Name, int Value, KeyValuePair<string, object?>[] Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == "ProxyScheduler")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => longs.Enqueue((i.Name, v, t.ToArray())));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => doubles.Enqueue((i.Name, v, t.ToArray())));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => ints.Enqueue((i.Name, v, t.ToArray())));
        listener.Start();

        // 10 OK, 5 that end 503 after one retry.
        var requests = Enumerable.Range(0, 15).Select(i => new ScheduledRequest(new Uri(host, i < 10 ? $"status/200?i={i}" : $"status/503?i={i}")));
        var outcomes = await sut.SendAllAsync(requests).ToListAsync();
        var processed = await sut.WithPostProcessor((r, _) => r.BodyLength).ProcessAllAsync(Enumerable.Range(0, 4).Select(i => new ScheduledRequest(new Uri(host, $"status/200?p={i}")))).ToListAsync();
        listener.RecordObservableInstruments();

        outcomes.Should().HaveCount(15);
        processed.Should().OnlyContain(p => p.Succeeded);
        long Sum(string name, Func<KeyValuePair<string, object?>[], bool>? where = null) => longs.Where(m => m.Name == name && (where is null || where(m.Tags))).Sum(m => m.Value);
        static object? Tag(KeyValuePair<string, object?>[] tags, string key) => tags.FirstOrDefault(t => t.Key == key).Value;

        Sum("proxyscheduler.requests.started").Should().Be(19);
        Sum("proxyscheduler.requests.completed").Should().Be(19);
        Sum("proxyscheduler.requests.completed", t => Equals(Tag(t, "http.response.status_code"), 503)).Should().Be(5);
        Sum("proxyscheduler.retries", t => Equals(Tag(t, "class"), "throttled")).Should().Be(5, "each 503 was retried once");
        Sum("proxyscheduler.attempts").Should().Be(24, "19 first attempts and 5 retries");
        doubles.Count(m => m.Name == "proxyscheduler.request.duration").Should().Be(19);
        doubles.Count(m => m.Name == "proxyscheduler.attempt.duration").Should().Be(24);
        var processing = doubles.Where(m => m.Name == "proxyscheduler.postprocessing.duration").ToList();
        processing.Should().HaveCount(4);
        processing.Select(m => Tag(m.Tags, "status")).Should().OnlyContain(s => Equals(s, "succeeded"));
        ints.Should().Contain(m => m.Name == "proxyscheduler.queue.depth" && m.Value == 0);
        ints.Should().Contain(m => m.Name == "proxyscheduler.requests.in_flight" && m.Value == 0);
        ints.Should().Contain(m => m.Name == "proxyscheduler.postprocessing.queue.depth" && m.Value == 0, "every fetched response was processed");

        var allTags = longs.SelectMany(m => m.Tags).Concat(doubles.SelectMany(m => m.Tags)).Concat(ints.SelectMany(m => m.Tags)).ToList();
        allTags.Select(t => t.Value?.ToString() ?? string.Empty).Should().NotContain(v => v.Contains("127.0.0.1", StringComparison.Ordinal) || v.Contains("status/", StringComparison.Ordinal),
            "no host or URI becomes a tag (unbounded cardinality)");
    }
}
