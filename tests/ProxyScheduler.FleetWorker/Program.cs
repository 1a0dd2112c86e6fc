// A fleet worker: FleetWorker --redis HOST:PORT --prefix P --per-host N --ttl-ms MS --urls URL[,URL...] [--requests N]
// Sends the requests (round-robin over the URLs, each with a ?w=worker&i=n query) through a scheduler in distributed
// mode, prints "ready" once connected, then one JSON line: {"worker":..,"done":..,"ok":..,"failed":..,"roundTrips":..}.
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler;
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
var urls = options["--urls"].Split(',').Select(u => new Uri(u)).ToArray();
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
    });
await using var provider = services.BuildServiceProvider();
var scheduler = provider.GetRequiredService<IRequestScheduler>();
var coordinator = provider.GetRequiredService<RedisFleetCoordinator>();
Console.WriteLine("ready");

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
