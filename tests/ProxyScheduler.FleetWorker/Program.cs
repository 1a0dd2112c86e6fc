// A fleet worker: FleetWorker --redis HOST:PORT --prefix P --per-host N --ttl-ms MS --urls URL[,URL...] [--requests N]
// Sends the requests (round-robin over the URLs, each with a ?w=worker&i=n query) through a scheduler in distributed
// mode, prints "ready" once connected, then one JSON line: {"worker":..,"done":..,"ok":..,"failed":..,"roundTrips":..}.
// With --queue NAME [--claim-ms MS]: takes requests from the fleet's work queue instead, until every entry has an
// outcome, then prints {"worker":..,"processed":..,"recorded":..,"duplicates":..}.
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler;
using ProxyScheduler.Redis;
using ProxyScheduler.Redis.Internal;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i]] = args[i + 1];
}

var redis = options["--redis"];
var prefix = options.GetValueOrDefault("--prefix", "fleet:");
var perHost = int.Parse(options.GetValueOrDefault("--per-host", "4"), CultureInfo.InvariantCulture);
var ttl = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("--ttl-ms", "10000"), CultureInfo.InvariantCulture));
var urls = options.TryGetValue("--urls", out var list) ? list.Split(',').Select(u => new Uri(u)).ToArray() : [];
var queue = options.GetValueOrDefault("--queue");
var claim = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("--claim-ms", "2000"), CultureInfo.InvariantCulture));
var requests = int.Parse(options.GetValueOrDefault("--requests", "1000"), CultureInfo.InvariantCulture);
var name = options.GetValueOrDefault("--name", $"w{Environment.ProcessId}");

var services = new ServiceCollection();
services.AddProxyScheduler(o =>
    {
        o.MaxConcurrency = 64;
        o.DefaultHost.MaxConcurrency = perHost;
        o.Retry.MaxRetries = 0;
        o.AttemptTimeout = TimeSpan.FromMinutes(2);
    })
    .UseRedis(redis, o =>
    {
        o.KeyPrefix = prefix;
        o.LeaseTtl = ttl;
        o.WorkerId = name;
    })
    .AddRedisWorkQueue(o =>
    {
        o.Name = queue ?? "work";
        o.ClaimIdle = claim;
    });
await using var provider = services.BuildServiceProvider();
var scheduler = provider.GetRequiredService<IRequestScheduler>();
var coordinator = provider.GetRequiredService<RedisFleetCoordinator>();
Console.WriteLine("ready");

if (queue is not null)
{
    var work = provider.GetRequiredService<RedisWorkQueue>();
    using var stop = new CancellationTokenSource();
    var processed = 0;
    var recorded = 0;
    var worker = work.RunAsync(outcome =>
    {
        Interlocked.Increment(ref processed);
        if (outcome.Recorded)
        {
            Interlocked.Increment(ref recorded);
        }

        return ValueTask.CompletedTask;
    }, stop.Token);
    while (!(await work.GetStatusAsync()).IsDrained || work.InFlight > 0)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System);
    }

    await stop.CancelAsync();
    await worker;
    Console.WriteLine(JsonSerializer.Serialize(new { worker = name, processed, recorded, duplicates = processed - recorded }));
    return 0;
}

var ok = 0;
var failed = 0;
var batch = Enumerable.Range(0, requests).Select(i => new ScheduledRequest(new Uri(urls[i % urls.Length], $"?w={name}&i={i}")));
await foreach (var outcome in scheduler.SendAllAsync(batch))
{
    if (outcome.Response is { IsSuccessStatusCode: true })
    {
        ok++;
    }
    else
    {
        failed++;
    }
}

Console.WriteLine(JsonSerializer.Serialize(new { worker = name, done = ok + failed, ok, failed, roundTrips = coordinator.RoundTrips }));
return 0;
