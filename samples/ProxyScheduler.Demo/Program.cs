// The main job, in its first form: a loopback world (one Kestrel server, 12 virtual hosts of different speeds),
// 3,000 requests scheduled through it with global and per-host limits, and a report of what the *server* counted.
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler;
using ProxyScheduler.Testing;

const int RequestCount = 3_000;
const int GlobalLimit = 24;
const int HostLimit = 3;

await using var world = await TargetServer.StartAsync(12);
var hosts = world.Hosts;
var slow = hosts[0];
world.SetLatency(2, 20);
world.SetLatency(slow, 150, 250);

var services = new ServiceCollection();
services.AddProxyScheduler(options =>
    {
        options.MaxConcurrency = GlobalLimit;
        options.DefaultHost.MaxConcurrency = HostLimit;
    })
    .ConfigureHost($"127.0.0.1:{slow.Port}", host =>
    {
        host.MaxConcurrency = 1;
        host.MinDelay = TimeSpan.FromMilliseconds(100);
    });
await using var provider = services.BuildServiceProvider();
var scheduler = provider.GetRequiredService<IRequestScheduler>();

Console.WriteLine($"ProxyScheduler demo: {RequestCount} requests to {hosts.Count} loopback hosts, global limit {GlobalLimit}, per-host limit {HostLimit}");
Console.WriteLine($"  slow host {slow.Authority}: 150-250 ms per response, limit 1, 100 ms between starts; the others answer in 2-20 ms");
Console.WriteLine();

var requests = Enumerable.Range(0, RequestCount).Select(i =>
{
    // One request in 60 goes to the slow host: it must not hold up the others.
    var host = i % 60 == 0 ? slow : hosts[1 + (i % (hosts.Count - 1))];
    return new ScheduledRequest(new Uri(host, $"?page={i}")) { Priority = i % 10 == 0 ? 1 : 0 };
});

using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(50));
var stopwatch = Stopwatch.StartNew();
var done = 0;
var ok = 0;
var failed = new Dictionary<string, int>();
long fastDoneAt = 0;
using var progress = new Timer(_ =>
{
    var s = scheduler.GetSnapshot();
    Console.WriteLine($"  {stopwatch.Elapsed.TotalSeconds,5:0.0} s  done {Volatile.Read(ref done),5}/{RequestCount}  in flight {s.InFlight,3}  queued {s.Queued,5}");
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

try
{
    await foreach (var outcome in scheduler.SendAllAsync(requests, cancel.Token))
    {
        Interlocked.Increment(ref done);
        if (outcome.Response is { StatusCode: HttpStatusCode.OK } response)
        {
            ok++;
            if (response.RequestUri.Port != slow.Port)
            {
                fastDoneAt = stopwatch.ElapsedMilliseconds;
            }
        }
        else
        {
            var key = outcome.Exception?.GetType().Name ?? $"HTTP {(int)outcome.Response!.StatusCode}";
            failed[key] = failed.GetValueOrDefault(key) + 1;
        }
    }
}
catch (OperationCanceledException)
{
    Console.WriteLine("  stopped after 50 s");
}

stopwatch.Stop();
await progress.DisposeAsync();

Console.WriteLine();
Console.WriteLine($"Finished {done} requests in {stopwatch.Elapsed.TotalSeconds:0.00} s ({done / stopwatch.Elapsed.TotalSeconds:0} req/s): {ok} OK, {done - ok} failed {(failed.Count > 0 ? string.Join(", ", failed.Select(f => $"{f.Key} x{f.Value}")) : "")}");
Console.WriteLine($"The last fast-host response arrived at {fastDoneAt / 1000.0:0.00} s; the slow host finished its {RequestCount / 60} requests at {stopwatch.Elapsed.TotalSeconds:0.00} s.");
Console.WriteLine();
Console.WriteLine("Counted by the target server:");
Console.WriteLine($"  {"host",-22} {"requests",9} {"max in flight",14} {"limit",6}");
var violations = 0;
foreach (var host in hosts)
{
    var counter = world.Counter(host);
    var limit = host == slow ? 1 : HostLimit;
    violations += counter.MaxInFlight > limit ? 1 : 0;
    Console.WriteLine($"  {host.Authority,-22} {counter.Received,9} {counter.MaxInFlight,14} {limit,6}{(host == slow ? "  (slow)" : "")}");
}

Console.WriteLine($"  {"all hosts",-22} {hosts.Sum(h => world.Counter(h).Received),9} {world.GlobalMaxInFlight,14} {GlobalLimit,6}");
Console.WriteLine();
var healthy = violations == 0 && world.GlobalMaxInFlight <= GlobalLimit && ok == RequestCount;
Console.WriteLine(healthy ? "Every limit held and every request completed." : "A limit was exceeded or requests failed.");
return healthy ? 0 : 1;
