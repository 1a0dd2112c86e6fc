// The C# examples of docs/proxies.md, docs/post-processing.md, docs/observability.md and docs/distributed.md, compiled with the solution (never run: their
// addresses are examples). A docs test checks that every C# block of those pages appears here, so they cannot drift
// from the API.
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Sessions;
using ProxyScheduler.Redis;

namespace ProxyScheduler.QuickStart;

internal static class DocSnippets
{
    public static async Task ProxiesAsync(IServiceCollection services, IRequestScheduler scheduler)
    {
        services.AddProxyScheduler(o =>
            {
                o.ProxyPool.MaxConcurrencyPerProxy = 8;             // per proxy
                o.ProxyPool.QuarantineAfter = 3;                    // proxy failures in a row
                o.Classification.BlockMarkers.Add("captcha");       // a CAPTCHA page is a block
            })
            .AddProxies("http://user:pass@10.0.0.1:8080", "socks5://10.0.1.1:1080", "10.0.2.1:3128:user:pass")
            .AddProxyFile("proxies.txt");                           // re-read when it changes

        var de = await scheduler.SendAsync(new ScheduledRequest("https://shop.example/") { Proxy = ProxyRequirement.WithTag("country", "de") });
        Console.WriteLine($"{de.StatusCode} through {de.Proxy!.Id}, tried {string.Join(", ", de.ProxiesTried)}");
    }

    public static async Task SessionsAsync(IRequestScheduler scheduler)
    {
        var response = await scheduler.SendAsync(new ScheduledRequest("https://shop.example/cart") { SessionKey = "user-42" });
        if (response.SessionRebound) { /* the session moved to another identity during this request */ }
    }

    public static async Task GatewayAsync(IServiceCollection services, IRequestScheduler scheduler)
    {
        services.AddProxyScheduler()
            .AddGatewayProxy(g =>
            {
                g.Address = "http://pr.oxylabs.io:7777";          // no credentials here
                g.Preset = GatewayPreset.Oxylabs;                  // customer-{user}[-cc-{country}]...[-sessid-{session}][-sesstime-{minutes}]
                g.User = "acme";
                g.Password = "…";
                g.SessionLifetime = TimeSpan.FromMinutes(10);      // the provider's sticky time: rendered, and rotated at 90 %
            });

        await scheduler.SendAsync(new ScheduledRequest("https://shop.example/") { SessionKey = "user-42", Proxy = ProxyRequirement.WithTag("country", "de") });
    }
}

public sealed record Product(string Name, decimal Price);

public sealed class ProductParser : ParallelPostProcessor<IReadOnlyList<Product>>
{
    protected override IReadOnlyList<Product> Process(ScheduledResponse response, CancellationToken cancellationToken)
    {
        var page = JsonSerializer.Deserialize<CataloguePage>(response.Body.Span)!;   // copy what you keep: the body's buffer is reused
        return page.Products.Select(p => new Product(p.Name, p.Price)).ToList();
    }
}

public sealed class CataloguePage
{
    public List<Product> Products { get; set; } = [];
}

public sealed record PricedProducts(IReadOnlyList<Product> Products, decimal Total);

public sealed class PriceRules
{
    public decimal Limit { get; } = 100m;
}

public sealed class PriceFilter(PriceRules rules) : ParallelPostProcessor<IReadOnlyList<Product>, PricedProducts>
{
    protected override PricedProducts Process(IReadOnlyList<Product> input, ScheduledResponse response, CancellationToken cancellationToken)
    {
        var kept = input.Where(p => p.Price < rules.Limit).ToList();
        return new PricedProducts(kept, kept.Sum(p => p.Price));
    }
}

public sealed class Crawler(PostProcessingPipeline<PricedProducts> pipeline)
{
    public IAsyncEnumerable<ProcessedResult<PricedProducts>> CrawlAsync(IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken) =>
        pipeline.ProcessAllAsync(requests, cancellationToken);
}

internal static class PostProcessingSnippets
{
    public static async Task RunAsync(IRequestScheduler scheduler, IEnumerable<ScheduledRequest> requests, CancellationToken cancellationToken)
    {
        var pipeline = scheduler.WithPostProcessor(new ProductParser())
            .WithOptions(o => o.MaxDegreeOfParallelism = Environment.ProcessorCount);

        await foreach (var item in pipeline.ProcessAllAsync(requests, cancellationToken))
        {
            switch (item.Status)
            {
                case ProcessedResultStatus.Succeeded: Save(item.Value!); break;
                case ProcessedResultStatus.FetchFailed: Console.WriteLine($"#{item.Index} not fetched: {item.Exception!.Message}"); break;
                case ProcessedResultStatus.ProcessingFailed: Console.WriteLine($"#{item.Index} step {item.FailedStep} threw: {item.Exception!.Message}"); break;
            }
        }
    }

    public static void Chain(IRequestScheduler scheduler)
    {
        var pipeline = scheduler.WithPostProcessor(new ProductParser())
            .Then((products, response, ct) => products.Where(p => p.Price < 100m).ToList());

        var ordered = pipeline.WithOptions(o =>
        {
            o.PreserveInputOrder = true;
            o.ReorderWindow = 256;
        });
        _ = ordered;
    }

    public static void Register(IServiceCollection services, IConfiguration configuration)
    {
        services.AddScoped<PriceRules>();                              // a scoped service a processor uses
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"))
            .AddPostProcessor<ProductParser, IReadOnlyList<Product>>()                          // per item (transient)
            .AddPostProcessor<PriceFilter, IReadOnlyList<Product>, PricedProducts>(ServiceLifetime.Scoped);
    }

    public static void PerHostMetrics(IServiceCollection services)
    {
        services.AddProxyScheduler(o =>
        {
            o.PerHostMetrics.Add("shop.example");       // one host
            o.PerHostMetrics.Add("*.partner.example");  // a family of hosts
        });
    }

    public static void HealthCheck(IServiceCollection services, IConfiguration configuration)
    {
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"))
            .AddHealthCheck(configure: h => h.DegradedBelow = 0.5);   // or services.AddHealthChecks().AddProxyScheduler()
    }

    public static void Snapshot(IRequestScheduler scheduler)
    {
        var snapshot = scheduler.GetSnapshot();
        foreach (var host in snapshot.Hosts)
        {
            Console.WriteLine($"{host.Host}: {host.Queued} queued, {host.InFlight}/{host.ConcurrencyLimit} in flight, paused until {host.PausedUntil}");
        }

        foreach (var proxy in snapshot.Proxies)
        {
            Console.WriteLine($"{proxy.Id} {proxy.Address} {proxy.State} score {proxy.Score:0.00}, {proxy.InFlight} in flight, back at {proxy.ReanimationAt}");
        }

        Console.WriteLine($"{snapshot.Sessions} sessions, {snapshot.Pending} pending");
    }

    public static void Distributed(IServiceCollection services, IConfiguration configuration)
    {
        services.AddProxyScheduler(configuration.GetSection("ProxyScheduler"))
            .UseRedis("127.0.0.1:6379", o =>            // or UseRedis(existingMultiplexer, ...) or UseRedis(section)
            {
                o.KeyPrefix = "shop-crawl:";             // several deployments can share one Redis
                o.WhenUnavailable = RedisUnavailablePolicy.Pause;
            })
            .AddRedisWorkQueue(q => q.Name = "crawl");   // optional: the shared work queue
    }

    public static async Task WorkQueueAsync(IServiceProvider provider, IEnumerable<Uri> urls, CancellationToken stopping)
    {
        var queue = provider.GetRequiredService<RedisWorkQueue>();
        await queue.AddAsync(urls.Select(u => new ScheduledRequest(u)), stopping);      // producers
        await queue.RunAsync(outcome => { /* store outcome.Response */ return ValueTask.CompletedTask; }, stopping);  // workers
        var status = await queue.GetStatusAsync(stopping);                              // Added, Completed, Pending, DeadLettered, Duplicates
        Console.WriteLine(status);
    }

    private static void Save(IReadOnlyList<Product> products) => Console.WriteLine($"{products.Count} products");
}
