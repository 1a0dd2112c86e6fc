using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Transport.Internal;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// The scheduler's own cost per request, without a network: both variants send to an in-process handler that answers
/// at once, so what differs is scheduling, retries, buffering and bookkeeping.
/// </summary>
public static class OverheadBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        var urls = Enumerable.Range(0, requests).Select(i => new Uri($"http://h{i % 50}.test/?i={i}")).ToArray();
        var handler = new InstantHandler();
        using var raw = new HttpClient(handler, disposeHandler: false);
        using var gate = new SemaphoreSlim(64);

        var services = new ServiceCollection();
        services.AddProxyScheduler(o =>
        {
            o.MaxConcurrency = 64;
            o.DefaultHost.MaxConcurrency = 8;
        });
        services.AddHttpClient(TransportClientNames.Direct).ConfigurePrimaryHttpMessageHandler(() => handler);
        await using var provider = services.BuildServiceProvider();
        var scheduler = provider.GetRequiredService<IRequestScheduler>();

        for (var round = 0; round < 6; round++)
        {
            var (rawTime, rawBytes) = await MeasureAsync(() => Task.WhenAll(urls.Select(async u =>
            {
                await gate.WaitAsync();
                try
                {
                    using var response = await raw.GetAsync(u);
                    _ = await response.Content.ReadAsByteArrayAsync();
                }
                finally
                {
                    gate.Release();
                }
            })));
            var (schedTime, schedBytes) = await MeasureAsync(async () =>
            {
                await foreach (var outcome in scheduler.SendAllAsync(urls.Select(u => new ScheduledRequest(u))))
                {
                    _ = outcome.Response!.Body;
                }
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}: raw {rawTime.TotalMicroseconds / requests:0.00} us/req {rawBytes / requests} B/req | scheduler {schedTime.TotalMicroseconds / requests:0.00} us/req {schedBytes / requests} B/req | ratio {schedTime / rawTime:0.00}x"));
        }

        return 0;
    }

    private static async Task<(TimeSpan Elapsed, long Bytes)> MeasureAsync(Func<Task> run)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var stopwatch = Stopwatch.StartNew();
        await run();
        stopwatch.Stop();
        return (stopwatch.Elapsed, GC.GetTotalAllocatedBytes(precise: true) - before);
    }

    private sealed class InstantHandler : HttpMessageHandler
    {
        private static readonly byte[] Body = "ok"u8.ToArray();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Body), RequestMessage = request });
    }
}
