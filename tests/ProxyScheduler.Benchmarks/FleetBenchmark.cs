using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Redis.Internal;
using ProxyScheduler.Testing;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// One worker with Redis coordination (distributed mode) against the same worker with local coordination, in alternating
/// rounds of the same run, against the loopback target of the load benchmark; and the Redis round trips per request.
/// </summary>
internal static class FleetBenchmark
{
    private const int Rounds = 7;
    private const int GlobalConcurrency = 64;
    private const int HostConcurrency = 8;

    public static async Task<int> RunAsync(string[] args)
    {
        if (ExternalServer.Find("redis-server") is null)
        {
            Console.Error.WriteLine("The fleet benchmark needs redis-server (./test.sh installs it with apt-get).");
            return 2;
        }

        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        await using var redis = await ExternalServer.StartRedisAsync();
        using var server = LoadBenchmark.StartServer(50, out var hosts);
        try
        {
            var urls = Enumerable.Range(0, requests).Select(i => new Uri(hosts[i % hosts.Count], $"?i={i}")).ToArray();
            await using var local = Build(null);
            await using var fleet = Build(Environment.GetEnvironmentVariable("PS_NOREDIS") == "1" ? null : redis.Port);
            var localScheduler = local.GetRequiredService<IRequestScheduler>();
            var fleetScheduler = fleet.GetRequiredService<IRequestScheduler>();
            var coordinator = fleet.GetService<RedisFleetCoordinator>();

            Console.WriteLine($"Fleet benchmark: {requests:N0} GET requests, {hosts.Count} loopback hosts, global concurrency {GlobalConcurrency}, per-host limit {HostConcurrency}; one worker, local vs Redis coordination (redis-server {redis.Port})");
            Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            for (var i = 0; i < 2; i++)
            {
                await LoadBenchmark.RunSchedulerAsync(localScheduler, urls);
                await LoadBenchmark.RunSchedulerAsync(fleetScheduler, urls);
            }

            var localResults = new List<LoadBenchmark.RunResult>();
            var fleetResults = new List<LoadBenchmark.RunResult>();
            var tripsPerRequest = new List<double>();
            for (var round = 0; round < Rounds; round++)
            {
                localResults.Add(await LoadBenchmark.RunSchedulerAsync(localScheduler, urls));
                var before = coordinator?.RoundTrips ?? 0;
                fleetResults.Add(await LoadBenchmark.RunSchedulerAsync(fleetScheduler, urls));
                tripsPerRequest.Add(((coordinator?.RoundTrips ?? 0) - before) / (double)requests);
                Console.WriteLine($"  round {round + 1}: local {localResults[^1].RequestsPerSecond,8:N0} req/s {localResults[^1].CpuMicrosPerRequest,5:0.0} µs CPU   redis {fleetResults[^1].RequestsPerSecond,8:N0} req/s {fleetResults[^1].CpuMicrosPerRequest,5:0.0} µs CPU  {tripsPerRequest[^1]:0.000} round trips/request");
            }

            var l = LoadBenchmark.RunResult.Median(localResults);
            var f = LoadBenchmark.RunResult.Median(fleetResults);
            var paired = localResults.Zip(fleetResults, (a, b) => b.RequestsPerSecond / a.RequestsPerSecond).Order().ToList();
            Console.WriteLine();
            Console.WriteLine("| coordination | requests/s | p50 ms | p99 ms | client CPU µs/request | Redis round trips/request |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| local (baseline) | {l.RequestsPerSecond:N0} | {l.P50Ms:0.00} | {l.P99Ms:0.00} | {l.CpuMicrosPerRequest:0.0} | 0 |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| Redis | {f.RequestsPerSecond:N0} | {f.P50Ms:0.00} | {f.P99Ms:0.00} | {f.CpuMicrosPerRequest:0.0} | {tripsPerRequest.Order().ElementAt(tripsPerRequest.Count / 2):0.000} |"));
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Paired throughput ratio (Redis / local, median of {Rounds} alternating rounds): {paired[paired.Count / 2]:0.00}x"));
            return 0;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
        }
    }

    private static ServiceProvider Build(int? redisPort)
    {
        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(o =>
        {
            o.MaxConcurrency = GlobalConcurrency;
            o.DefaultHost.MaxConcurrency = HostConcurrency;
        });
        if (redisPort is { } port)
        {
            builder.UseRedis($"127.0.0.1:{port}", o => o.KeyPrefix = $"bench-{Guid.NewGuid():N}:");
        }

        return services.BuildServiceProvider();
    }
}
