using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Testing;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// The loopback load benchmark: the same GET requests to a Kestrel target (in a child process, so its work and
/// allocations are not counted) over 50 hosts at global concurrency 64, through <see cref="IRequestScheduler"/>
/// (per-host limit 8) and through raw <see cref="HttpClient"/> + <see cref="SemaphoreSlim"/>, alternated in one run.
/// </summary>
public static class LoadBenchmark
{
    private const int Hosts = 50;
    private const int GlobalConcurrency = 64;
    private const int HostConcurrency = 8;
    private const int Rounds = 9;
    private const int WarmupRounds = 3;

    public static async Task<int> ServeAsync(int hosts)
    {
        await using var server = await TargetServer.StartAsync(hosts);
        Console.WriteLine(string.Join(' ', server.Hosts.Select(h => h.Port.ToString(CultureInfo.InvariantCulture))));
        Console.Out.Flush();
        await Console.In.ReadToEndAsync(); // runs until the parent closes stdin
        return 0;
    }

    /// <summary>
    /// The proxied variant: the same requests through 4 real tinyproxy instances on loopback, the scheduler's pool
    /// against raw <see cref="HttpClient"/>s with one handler per proxy, taken in turn.
    /// </summary>
    public static async Task<int> RunProxiedAsync(string[] args)
    {
        var proxies = new List<ExternalServer>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                proxies.Add(await ExternalServer.StartTinyproxyAsync(bindAddress: "127.0.0.1"));
            }

            return await RunAsync(args, [.. proxies.Select(p => new Uri($"http://127.0.0.1:{p.Port}"))]);
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }

    public static async Task<int> RunAsync(string[] args, IReadOnlyList<Uri>? proxies = null)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        using var server = StartServer(out var hosts);
        try
        {
            var urls = Enumerable.Range(0, requests).Select(i => new Uri(hosts[i % hosts.Count], $"?i={i}")).ToArray();

            using var raw = new RawClient(GlobalConcurrency, proxies);
            var services = new ServiceCollection();
            var builder = services.AddProxyScheduler(o =>
            {
                o.MaxConcurrency = GlobalConcurrency;
                o.QueueLimit = int.TryParse(Environment.GetEnvironmentVariable("PS_QUEUE"), out var q) ? q : 10_000;
                if (Environment.GetEnvironmentVariable("PS_NORETRY") == "1")
                {
                    o.Retry.MaxRetries = 0;
                }
                o.DefaultHost.MaxConcurrency = HostConcurrency;
                o.ProxyPool.MaxConcurrencyPerProxy = GlobalConcurrency;
            });
            if (proxies is not null)
            {
                builder.AddProxies([.. proxies.Select(static p => Proxies.ProxyEndpoint.Parse(p.ToString()))]);
            }

            await using var provider = services.BuildServiceProvider();
            var scheduler = provider.GetRequiredService<IRequestScheduler>();

            Console.WriteLine($"Load benchmark{(proxies is null ? string.Empty : $" through {proxies.Count} tinyproxy instances")}: {requests:N0} GET requests, {Hosts} loopback hosts, global concurrency {GlobalConcurrency}, scheduler per-host limit {HostConcurrency}");
            Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {RuntimeVersion()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");

            // Warm-up: connections, JIT and tiered compilation reach their steady state.
            for (var i = 0; i < WarmupRounds; i++)
            {
                await raw.RunAsync(urls);
                await RunSchedulerAsync(scheduler, urls);
            }

            if (Environment.GetEnvironmentVariable("PS_ONLY") is { Length: > 0 } only)
            {
                // Profiling aid: run one variant only, many times.
                for (var i = 0; i < 10; i++)
                {
                    var result = only == "raw" ? await raw.RunAsync(urls) : await RunSchedulerAsync(scheduler, urls);
                    Console.WriteLine($"  {only}: {result.RequestsPerSecond:N0} req/s {result.CpuMicrosPerRequest:0.0} µs CPU");
                }

                return 0;
            }

            var rawResults = new List<RunResult>();
            var schedulerResults = new List<RunResult>();
            for (var round = 0; round < Rounds; round++)
            {
                rawResults.Add(await raw.RunAsync(urls));
                schedulerResults.Add(await RunSchedulerAsync(scheduler, urls));
                Console.WriteLine($"  round {round + 1}: raw {rawResults[^1].RequestsPerSecond,8:N0} req/s {rawResults[^1].CpuMicrosPerRequest,5:0.0} µs CPU GC {rawResults[^1].Collections}   scheduler {schedulerResults[^1].RequestsPerSecond,8:N0} req/s {schedulerResults[^1].CpuMicrosPerRequest,5:0.0} µs CPU GC {schedulerResults[^1].Collections}");
            }

            var r = RunResult.Median(rawResults);
            var s = RunResult.Median(schedulerResults);
            Console.WriteLine();
            Console.WriteLine("| variant | requests/s | p50 ms | p99 ms | allocated bytes/request | client CPU µs/request | failures |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            Console.WriteLine(r.ToRow(proxies is null ? "raw HttpClient + SemaphoreSlim (baseline)" : "raw HttpClient per proxy + SemaphoreSlim (baseline)"));
            Console.WriteLine(s.ToRow("IRequestScheduler"));
            Console.WriteLine();
            // Rounds alternate, so each scheduler round has a raw round beside it under the same machine conditions:
            // the median of those paired ratios is the figure least moved by noise on a small, shared machine.
            var paired = rawResults.Zip(schedulerResults, (a, b) => b.RequestsPerSecond / a.RequestsPerSecond).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Paired throughput ratio (scheduler / raw, median of {Rounds} alternating rounds): {paired[paired.Count / 2]:0.00}x  (target >= 0.95x)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Ratio of medians: throughput {s.RequestsPerSecond / r.RequestsPerSecond:0.00}x; p99 ratio {s.P99Ms / r.P99Ms:0.00}x; allocation ratio {(double)s.BytesPerRequest / r.BytesPerRequest:0.00}x; CPU ratio {s.CpuMicrosPerRequest / r.CpuMicrosPerRequest:0.00}x"));
            return 0;
        }
        finally
        {
            server.StandardInput.Close();
            if (!server.WaitForExit(5_000))
            {
                server.Kill();
            }
        }
    }

    internal static async Task<RunResult> RunSchedulerAsync(IRequestScheduler scheduler, Uri[] urls)
    {
        var latencies = new double[urls.Length];
        var count = 0;
        var failures = 0;
        RunResult.StartCpu();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var stopwatch = Stopwatch.StartNew();
        if (Environment.GetEnvironmentVariable("PS_MODE") == "tasks")
        {
            var responses = await Task.WhenAll(urls.Select(u => scheduler.SendAsync(new ScheduledRequest(u))));
            foreach (var response in responses)
            {
                latencies[count++] = response.Timings.LastAttempt.TotalMilliseconds;
            }

            stopwatch.Stop();
            return RunResult.From(latencies.AsSpan(0, count), urls.Length, failures, stopwatch.Elapsed, GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore);
        }

        await foreach (var outcome in scheduler.SendAllAsync(urls.Select(u => new ScheduledRequest(u))))
        {
            if (outcome.Response is { StatusCode: HttpStatusCode.OK } response)
            {
                latencies[count++] = response.Timings.LastAttempt.TotalMilliseconds;
            }
            else
            {
                failures++;
            }
        }

        stopwatch.Stop();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        return RunResult.From(latencies.AsSpan(0, count), urls.Length, failures, stopwatch.Elapsed, allocated);
    }

    private static Process StartServer(out IReadOnlyList<Uri> hosts) => StartServer(Hosts, out hosts);

    /// <summary>Starts the loopback target in a child process (so its CPU time and memory are not the client's) with <paramref name="count"/> hosts.</summary>
    internal static Process StartServer(int count, out IReadOnlyList<Uri> hosts)
    {
        if (Environment.GetEnvironmentVariable("PS_PORTS") is { Length: > 0 } ports)
        {
            // A target started separately (for profiling): "serve 50" prints the ports to pass here.
            hosts = [.. ports.Split(' ').Select(p => new Uri($"http://127.0.0.1:{p}/"))];
            return Process.Start(new ProcessStartInfo("true") { RedirectStandardInput = true, UseShellExecute = false })!;
        }

        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(LoadBenchmark).Assembly.Location);
        }

        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        var process = Process.Start(info)!;
        var line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("The target server did not start.");
        hosts = [.. line.Split(' ').Select(p => new Uri($"http://127.0.0.1:{p}/"))];
        return process;
    }

    internal static string RuntimeVersion() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

    /// <summary>The baseline: what a team writes by hand.</summary>
    private sealed class RawClient(int concurrency, IReadOnlyList<Uri>? proxies) : IDisposable
    {
        private readonly HttpClient[] _clients = proxies is null
            ? [Create(null)]
            : [.. proxies.Select(Create)];

        private readonly SemaphoreSlim _gate = new(concurrency);
        private int _turn;

        private HttpClient _client => _clients.Length == 1 ? _clients[0] : _clients[(int)((uint)Interlocked.Increment(ref _turn) % (uint)_clients.Length)];

        private static HttpClient Create(Uri? proxy) => new(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = proxy is not null,
            Proxy = proxy is null ? null : new WebProxy(proxy),
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        { Timeout = TimeSpan.FromSeconds(30) };

        public async Task<RunResult> RunAsync(Uri[] urls)
        {
            var latencies = new double[urls.Length];
            var failures = 0;
            RunResult.StartCpu();
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var stopwatch = Stopwatch.StartNew();
            await Task.WhenAll(urls.Select(async (url, i) =>
            {
                await _gate.WaitAsync();
                try
                {
                    var started = Stopwatch.GetTimestamp();
                    using var response = await _client.GetAsync(url);
                    _ = await response.Content.ReadAsByteArrayAsync();
                    latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }
                finally
                {
                    _gate.Release();
                }
            }));
            stopwatch.Stop();
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            return RunResult.From(latencies, urls.Length, failures, stopwatch.Elapsed, allocated);
        }

        public void Dispose()
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }

            _gate.Dispose();
        }
    }

    internal sealed record RunResult(double RequestsPerSecond, double P50Ms, double P99Ms, long BytesPerRequest, int Failures, double CpuMicrosPerRequest)
    {
        private static TimeSpan s_cpuBefore;

        /// <summary>Marks the start of a run for the client process's CPU time.</summary>
        private static int s_gen0;
        private static int s_gen1;
        private static int s_gen2;

        public static void StartCpu()
        {
            // Each run starts from a clean heap, so neither variant pays for the other's garbage.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            s_cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            (s_gen0, s_gen1, s_gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        }

        public string Collections { get; private init; } = string.Empty;

        public static RunResult From(Span<double> latencies, int requests, int failures, TimeSpan elapsed, long allocated)
        {
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - s_cpuBefore).TotalMicroseconds / requests;
            latencies.Sort();
            var p50 = latencies.Length == 0 ? 0 : latencies[(int)(latencies.Length * 0.50)];
            var p99 = latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(latencies.Length * 0.99))];
            return new RunResult(requests / elapsed.TotalSeconds, p50, p99, allocated / requests, failures, cpu)
            {
                Collections = $"{GC.CollectionCount(0) - s_gen0}/{GC.CollectionCount(1) - s_gen1}/{GC.CollectionCount(2) - s_gen2}",
            };
        }

        public static RunResult Median(List<RunResult> results) => results.OrderBy(r => r.RequestsPerSecond).ElementAt(results.Count / 2);

        public string ToRow(string name) => string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {RequestsPerSecond:N0} | {P50Ms:0.00} | {P99Ms:0.00} | {BytesPerRequest:N0} | {CpuMicrosPerRequest:0.0} | {Failures} |");
    }
}
