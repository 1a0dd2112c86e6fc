using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Testing;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// Issue 16's soak: requests through two real tinyproxy instances to a loopback Kestrel target that resets one
/// connection in <c>every</c> (default 100) before answering, with the default retry options. Counts the requests lost,
/// and among them those lost with retry budget left (which a retry could have saved: must be 0). Bounded in count and
/// time (10 minutes); all traffic on 127.0.0.0/8.
/// </summary>
internal static class ResetSoakBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        var every = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        await using var target = await TargetServer.StartAsync(8);
        var proxies = new List<ExternalServer>();
        try
        {
            foreach (var bind in new[] { "127.0.0.3", "127.0.0.4" })
            {
                proxies.Add(await ExternalServer.StartTinyproxyAsync(bindAddress: bind));
            }

            var services = new ServiceCollection();
            services.AddProxyScheduler(o =>
            {
                o.MaxConcurrency = 64;
                o.QueueLimit = 10_000;
                o.DefaultHost.MaxConcurrency = 8;
            }).AddProxies([.. proxies.Select(p => ProxyEndpoint.Parse($"127.0.0.1:{p.Port}"))]);
            await using var provider = services.BuildServiceProvider();
            var scheduler = provider.GetRequiredService<IRequestScheduler>();
            var budget = new ProxySchedulerOptions().Retry.MaxRetries + 1;

            Console.WriteLine($"Reset soak: {requests:N0} requests through 2 tinyproxy instances to 8 loopback hosts; the target resets 1 connection in {every}; default retries ({budget - 1}).");
            Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var watch = Stopwatch.StartNew();
            long ok = 0, lost = 0, savable = 0, attempts = 0;
            var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
            await foreach (var outcome in scheduler.SendAllAsync(
                Enumerable.Range(0, requests).Select(i => new ScheduledRequest(new Uri(target.Hosts[i % target.Hosts.Count], $"reset-every/{every}?i={i}"))), bound.Token))
            {
                if (outcome.Response is { } response)
                {
                    ok++;
                    attempts += response.Attempts;
                    continue;
                }

                lost++;
                var failure = outcome.Exception as RequestFailedException;
                attempts += failure?.Attempts ?? 0;
                savable += failure is not null && failure.Attempts < budget ? 1 : 0;
                var reason = failure?.Reason.ToString() ?? outcome.Exception?.GetType().Name ?? "?";
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }

            watch.Stop();
            Console.WriteLine($"{ok + lost:N0} ended in {watch.Elapsed.TotalSeconds:0.0} s ({(ok + lost) / watch.Elapsed.TotalSeconds:0} req/s): {ok:N0} answered, {lost} lost ({savable} with retry budget left), {target.ResetsSent:N0} resets injected, {attempts:N0} attempts.");
            foreach (var (reason, n) in reasons)
            {
                Console.WriteLine($"  lost: {n} {reason}");
            }

            var snapshot = scheduler.GetSnapshot();
            Console.WriteLine("Proxies: " + string.Join("; ", snapshot.Proxies.Select(p => $"{p.State} attempts {p.Attempts:N0} answered {p.Answered:N0} proxy's {p.ProxyFailures} pair {p.PairFailures} host's {p.HostFailures}")));
            return savable == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }
}
