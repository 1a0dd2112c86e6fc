using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies;
using ProxyScheduler.Testing;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ProxyScheduler.Demo;

/// <summary>Parses every catalogue page on the post-processing workers (all cores): the CPU-bound step of the crawl.</summary>
internal sealed class CataloguePageParser : ParallelPostProcessor<CatalogueSummary>
{
    protected override CatalogueSummary Process(ScheduledResponse response, CancellationToken cancellationToken) =>
        CatalogueJson.Summarize(response.Body.Span);
}

/// <summary>The main job: a crawl of the embedded world, a live display while it runs, and the report at the end.</summary>
internal static class WorldRun
{
    private const int GlobalLimit = 48;
    private const int HostLimit = 4;
    private const int StrictLimit = 4;
    private const int Shoppers = 80;
    private static readonly TimeSpan DefaultRunLimit = TimeSpan.FromSeconds(55);

    public static async Task<int> RunAsync(DemoOptions options)
    {
        await using var world = await DemoWorld.StartAsync();
        var proxyNames = world.Proxies.ToDictionary(p => ProxyEndpoint.Parse(p.Url).Id, p => p);
        var runLimit = options.DeadlineSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultRunLimit;
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Redirected to a file or a CI log: room for the report's tables.
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 160);
        }

        DescribeWorld(world, options.Requests, runLimit);

        // The Redis round trips, read from the scheduler's own metric (proxyscheduler.redis.calls).
        long roundTrips = 0;
        using var meters = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "proxyscheduler.redis.calls")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        var byOperation = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            Interlocked.Add(ref roundTrips, value);
            foreach (var tag in tags)
            {
                if (tag.Key == "operation" && tag.Value is string operation)
                {
                    byOperation.AddOrUpdate(operation, value, (_, n) => n + value);
                }
            }
        });
        meters.Start();
        var fleetPrefix = $"demo-{Guid.NewGuid().ToString("N")[..8]}:";
        var workerCount = options.Redis is null ? 1 : options.Workers;
        var providers = Enumerable.Range(0, workerCount).Select(i => BuildWorker(world, options.Redis, fleetPrefix, i)).ToList();
        try
        {
            var schedulers = providers.Select(p => p.GetRequiredService<IRequestScheduler>()).ToList();
            var requests = BuildRequests(world, options.Requests);
            if (options.Redis is not null)
            {
                Console.WriteLine($"Fleet mode: {workerCount} workers sharing limits, proxy health and sessions through Redis {options.Redis} (key prefix {fleetPrefix})");
            }

            var stats = new RunStats(options.Requests);
            var stopwatch = Stopwatch.StartNew();
            using var cancel = new CancellationTokenSource(runLimit);
            var crawl = Task.WhenAll(providers.Select((provider, w) => Task.Run(async () =>
            {
                // Each worker takes every workerCount-th request: a shopper's requests go through several workers.
                var mine = requests.Where((_, i) => i % workerCount == w);
                await foreach (var item in provider.GetRequiredService<PostProcessingPipeline<CatalogueSummary>>().ProcessAllAsync(mine, cancel.Token))
                {
                    stats.Record(item);
                }
            })));

            await ShowProgressAsync(options.Live, crawl, () => Progress(schedulers, stats, world, stopwatch.Elapsed), () => ProgressLine(schedulers, stats, stopwatch.Elapsed));
            var timedOut = false;
            try
            {
                await crawl;
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
            }

            stopwatch.Stop();
            var fleet = options.Redis is null ? null : $"{workerCount} workers on Redis {options.Redis}: {Interlocked.Read(ref roundTrips):N0} Redis round trips ({Interlocked.Read(ref roundTrips) / (double)Math.Max(1, stats.Done):0.000} per request: {string.Join(", ", byOperation.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value:N0}"))})";
            return Report(world, schedulers[0].GetSnapshot(), stats, proxyNames, stopwatch.Elapsed, timedOut ? runLimit : null, fleet, GlobalLimit * workerCount);
        }
        finally
        {
            foreach (var provider in providers)
            {
                await provider.DisposeAsync();
            }
        }
    }

    /// <summary>The first lines: what the embedded world holds, faults on purpose included, so the report can be read against it.</summary>
    private static void DescribeWorld(DemoWorld world, int requests, TimeSpan runLimit)
    {
        var sites = string.Join(", ", world.Sites.GroupBy(x => x.Kind).Select(g => $"{g.Count()} {Describe(g.First())}"));
        var proxies = string.Join(", ", world.Proxies.GroupBy(p => p.Kind).Select(g => $"{g.Count()} {g.Key}"));
        AnsiConsole.MarkupLine($"[bold]Embedded world[/] on 127.0.0.1: {world.Sites.Count} sites ({Markup.Escape(sites)}).");
        AnsiConsole.MarkupLine($"{world.Proxies.Count} proxies ({Markup.Escape(proxies)}); the dead, flaky and slow ones are so [italic]on purpose[/]: the pool should route around them.");
        AnsiConsole.MarkupLine($"{requests:N0} requests, at most {GlobalLimit} in flight and {HostLimit} per host; the run stops by itself after {runLimit.TotalSeconds:0} s.");
    }

    private static ServiceProvider BuildWorker(DemoWorld world, string? redis, string prefix, int index)
    {
        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(o =>
            {
                o.MaxConcurrency = GlobalLimit;
                o.QueueLimit = 10_000;
                o.DefaultHost.MaxConcurrency = HostLimit;
                o.AttemptTimeout = TimeSpan.FromSeconds(10);
                o.Retry.MaxRetries = 3;
                o.Retry.BaseDelay = TimeSpan.FromMilliseconds(200);
                o.ProxyPool.MaxConcurrencyPerProxy = 16;
                o.ProxyPool.QuarantineAfter = 2;
                o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromSeconds(2);
                o.ProxyPool.RetireAfter = 4;
                o.PostProcessing.Capacity = GlobalLimit * 2;
            })
            .AddProxies([.. world.Proxies.Select(p => p.Url)])
            .AddPostProcessor<CataloguePageParser, CatalogueSummary>(ServiceLifetime.Singleton);
        foreach (var site in world.Sites.Where(s => s.Kind == SiteKind.Strict))
        {
            // Strict sites allow 2 at once: the scheduler starts from its own limit and adapts to their 429s.
            builder.ConfigureHost(site.Authority, h =>
            {
                h.MaxConcurrency = StrictLimit;
                h.Adaptive = true;
            });
        }

        if (redis is not null)
        {
            builder.UseRedis(redis, o =>
            {
                o.KeyPrefix = prefix;
                o.WorkerId = $"demo-worker-{index + 1}";
            });
        }

        // The HTTPS sites use a certificate made for this run: the proxy clients trust it (and only it) besides the system's.
        services.ConfigureAll<HttpClientFactoryOptions>(o => o.HttpMessageHandlerBuilderActions.Add(handler =>
        {
            if (handler.PrimaryHandler is SocketsHttpHandler sockets)
            {
                sockets.SslOptions.RemoteCertificateValidationCallback = world.ValidateCertificate;
            }
        }));
        return services.BuildServiceProvider();

    }

    /// <summary>The requests, in a fixed mix: most to fast sites, some to each difficult kind, the shop ones in sessions.</summary>
    private static List<ScheduledRequest> BuildRequests(DemoWorld world, int count)
    {
        var random = new Random(42);
        var byKind = world.Sites.GroupBy(s => s.Kind).ToDictionary(g => g.Key, g => g.ToArray());
        (SiteKind Kind, double Share)[] mix = [(SiteKind.Fast, 0.45), (SiteKind.Secure, 0.10), (SiteKind.Slow, 0.05), (SiteKind.Strict, 0.10), (SiteKind.Blocking, 0.08), (SiteKind.Large, 0.04), (SiteKind.Shop, 0.18)];
        var list = new List<ScheduledRequest>(count);
        for (var i = 0; i < count; i++)
        {
            var roll = random.NextDouble();
            var kind = mix[^1].Kind;
            foreach (var (k, share) in mix)
            {
                if ((roll -= share) < 0)
                {
                    kind = k;
                    break;
                }
            }

            var sites = byKind[kind];
            var site = sites[random.Next(sites.Length)];
            list.Add(new ScheduledRequest(new Uri(site.Uri, $"item/{i}"))
            {
                SessionKey = kind == SiteKind.Shop ? $"shopper-{i % Shoppers}" : null,
                State = site,
            });
        }

        return list;
    }

    private static async Task ShowProgressAsync(bool live, Task crawl, Func<IRenderable> render, Func<string> line)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Redirected to a file or a CI log: one progress line every 2 s.
            live = false;
        }

        if (live)
        {
            await AnsiConsole.Live(render()).AutoClear(false).StartAsync(async context =>
            {
                while (!crawl.IsCompleted)
                {
                    await Task.WhenAny(crawl, Task.Delay(250));
                    context.UpdateTarget(render());
                }
            });
            return;
        }

        while (!crawl.IsCompleted)
        {
            await Task.WhenAny(crawl, Task.Delay(2_000));
            if (!crawl.IsCompleted)
            {
                AnsiConsole.WriteLine(line());
            }
        }
    }

    private static string ProgressLine(IReadOnlyList<IRequestScheduler> schedulers, RunStats stats, TimeSpan elapsed)
    {
        var all = schedulers.Select(x => x.GetSnapshot()).ToList();
        var s = all[0];
        var proxies = string.Join(", ", s.Proxies.GroupBy(p => p.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"));
        var line = string.Create(CultureInfo.InvariantCulture,
            $"  {elapsed.TotalSeconds,5:0.0} s  done {stats.Done,6:N0}/{stats.Total:N0}  {stats.Done / Math.Max(elapsed.TotalSeconds, 0.001),4:0} req/s  in flight {all.Sum(x => x.InFlight),2}/{all.Sum(x => x.MaxConcurrency)}  queued {all.Sum(x => x.Queued),5:N0}  hosts paused {s.Hosts.Count(h => h.PausedUntil is not null)}, down {all.Sum(x => x.HostsDown)}  proxies: {proxies}");
        var waiting = all.Sum(x => x.WaitingForProxy);
        return waiting > 0 ? $"{line}  waiting for a proxy: {waiting}; {all.First(x => x.WaitingForProxy > 0).WaitingForProxyReason}" : line;
    }

    private static Table Progress(IReadOnlyList<IRequestScheduler> schedulers, RunStats stats, DemoWorld world, TimeSpan elapsed)
    {
        var all = schedulers.Select(x => x.GetSnapshot()).ToList();
        var s = all[0];
        var allHosts = all.SelectMany(x => x.Hosts).ToList();
        var done = stats.Done;
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]ProxyScheduler demo[/] {elapsed.TotalSeconds:0.0} s");
        table.AddColumn("progress").AddColumn("hosts (kind: in flight / limit, queued)").AddColumn("proxies");
        var hosts = string.Join('\n', world.Sites.GroupBy(x => x.Kind).Select(g =>
        {
            var snaps = allHosts.Where(h => g.Any(site => site.Authority == h.Host)).ToList();
            var paused = snaps.Count(h => h.PausedUntil is not null);
            return $"{g.Key,-8} {snaps.Sum(h => h.InFlight),3} / {snaps.Sum(h => h.ConcurrencyLimit),3}, {snaps.Sum(h => h.Queued),4} queued{(paused > 0 ? $", {paused} paused" : string.Empty)}";
        }));
        var states = string.Join('\n', s.Proxies.GroupBy(p => p.State).OrderBy(g => g.Key).Select(g => $"{g.Key,-12} {g.Count(),2}"));
        table.AddRow(
            new Markup($"done {done:N0}/{stats.Total:N0}\n{rate:0} req/s\nin flight {all.Sum(x => x.InFlight)}/{all.Sum(x => x.MaxConcurrency)}\nqueued {all.Sum(x => x.Queued):N0}\nparsed {stats.Parsed:N0}\nsessions {s.Sessions}\nhosts down {all.Sum(x => x.HostsDown)}"),
            new Text(hosts),
            new Text(states));
        var waiting = all.Sum(x => x.WaitingForProxy);
        if (waiting > 0)
        {
            table.AddRow(new Markup($"[yellow]waiting for a proxy: {waiting}[/]"), new Text(all.First(x => x.WaitingForProxy > 0).WaitingForProxyReason ?? string.Empty), new Text(string.Empty));
        }

        return table;
    }

    private static int Report(DemoWorld world, SchedulerSnapshot snapshot, RunStats stats, Dictionary<string, WorldProxy> proxyNames, TimeSpan elapsed, TimeSpan? cutAt, string? fleet, int globalLimit)
    {
        var console = AnsiConsole.Console;
        console.WriteLine();
        console.Write(new Rule("[bold]Report[/]").LeftJustified());
        console.MarkupLine($"{stats.Done:N0} of {stats.Total:N0} requests in {elapsed.TotalSeconds:0.0} s: [bold]{stats.Done / elapsed.TotalSeconds:0} requests/s[/]{(cutAt is { } cut ? $" [red](cut short at the {cut.TotalSeconds:0} s deadline)[/]" : string.Empty)}");
        var outcomes = new Table().Border(TableBorder.Simple).AddColumn("outcome").AddColumn(new TableColumn("requests").RightAligned());
        foreach (var (outcome, n) in stats.Outcomes.OrderByDescending(o => o.Value))
        {
            outcomes.AddRow(Markup.Escape(outcome), n.ToString("N0", CultureInfo.InvariantCulture));
        }

        console.Write(outcomes);

        var violations = 0;
        var hosts = new Table().Border(TableBorder.Simple).Title("Hosts, [italic]as counted by the target server[/]")
            .AddColumn("host").AddColumn("kind").AddColumn(new TableColumn("requests").RightAligned()).AddColumn(new TableColumn("429").RightAligned())
            .AddColumn(new TableColumn("403").RightAligned()).AddColumn(new TableColumn("max in flight").RightAligned()).AddColumn(new TableColumn("limit").RightAligned()).AddColumn("");
        foreach (var site in world.Sites)
        {
            var limit = site.Kind == SiteKind.Strict ? StrictLimit : HostLimit;
            var ok = site.Counter.MaxInFlight <= limit;
            violations += ok ? 0 : 1;
            hosts.AddRow(site.Name, Describe(site), site.Counter.Received.ToString("N0", CultureInfo.InvariantCulture), site.Throttled.ToString(CultureInfo.InvariantCulture),
                site.Refused.ToString(CultureInfo.InvariantCulture), site.Counter.MaxInFlight.ToString(CultureInfo.InvariantCulture), limit.ToString(CultureInfo.InvariantCulture), ok ? "[green]ok[/]" : "[red]EXCEEDED[/]");
        }

        // The global limit is each worker's own (host limits are the fleet's): N workers may have N times it in flight.
        var globalOk = world.GlobalMaxInFlight <= globalLimit;
        hosts.AddRow("[bold]all hosts[/]", string.Empty, world.Sites.Sum(s => s.Counter.Received).ToString("N0", CultureInfo.InvariantCulture), world.Sites.Sum(s => s.Throttled).ToString(CultureInfo.InvariantCulture),
            world.Sites.Sum(s => s.Refused).ToString(CultureInfo.InvariantCulture), world.GlobalMaxInFlight.ToString(CultureInfo.InvariantCulture), globalLimit.ToString(CultureInfo.InvariantCulture), globalOk ? "[green]ok[/]" : "[red]EXCEEDED[/]");
        console.Write(hosts);

        // Each attempt through a proxy ends one way: answered by the target (any status: the proxy did its job), failed
        // and blamed on the proxy, failed and charged to the (proxy, host) pair, or failed and blamed on the host.
        var proxies = new Table().Border(TableBorder.Simple).Title("Proxies, final state [italic](attempts = answered + failures by blame + cancelled)[/]")
            .AddColumn("proxy").AddColumn("kind").AddColumn("state").AddColumn(new TableColumn("score").RightAligned())
            .AddColumn(new TableColumn("attempts").RightAligned()).AddColumn(new TableColumn("answered").RightAligned())
            .AddColumn(new TableColumn("proxy's fault").RightAligned()).AddColumn(new TableColumn("pair").RightAligned()).AddColumn(new TableColumn("host's fault").RightAligned())
            .AddColumn("how they failed").AddColumn(new TableColumn("resets sent").RightAligned());
        foreach (var p in snapshot.Proxies.OrderBy(p => proxyNames[p.Id].Name, StringComparer.Ordinal))
        {
            var known = proxyNames[p.Id];
            var color = p.State switch { ProxyHealthState.Healthy => "green", ProxyHealthState.Quarantined => "yellow", _ => "red" };
            var kinds = p.FailuresByKind.Count == 0 ? "-" : string.Join(", ", p.FailuresByKind.OrderByDescending(k => k.Value).Select(k => $"{k.Value:N0} {k.Key}"));
            proxies.AddRow(known.Name, Markup.Escape(known.Kind), $"[{color}]{p.State}[/]", p.Score.ToString("0.00", CultureInfo.InvariantCulture),
                p.Attempts.ToString("N0", CultureInfo.InvariantCulture), p.Answered.ToString("N0", CultureInfo.InvariantCulture),
                p.ProxyFailures.ToString("N0", CultureInfo.InvariantCulture), p.PairFailures.ToString("N0", CultureInfo.InvariantCulture), p.HostFailures.ToString("N0", CultureInfo.InvariantCulture),
                Markup.Escape(kinds), known.Server?.Resets.ToString("N0", CultureInfo.InvariantCulture) ?? "-");
        }

        console.Write(proxies);

        var sessions = stats.Sessions;
        var kept = sessions.Count(s => s.Value.Proxies.Count == 1);
        console.MarkupLine($"[bold]Sessions[/]: {sessions.Count} shoppers; {kept} were served by one proxy identity throughout, {sessions.Count - kept} moved to another; "
            + $"{sessions.Sum(s => s.Value.Rebinds)} responses came after a rebind (the session's proxy failed or was blocked, and the pool chose again).");
        console.MarkupLine($"[bold]Processing[/]: {stats.Parsed:N0} pages parsed on {Environment.ProcessorCount} cores ({stats.Parsed / elapsed.TotalSeconds:0} pages/s), {stats.Products:N0} products; {stats.ProcessingFailed} parse failures.");
        if (fleet is not null)
        {
            console.MarkupLine($"[bold]Fleet[/]: {Markup.Escape(fleet)}; the limits above held for the workers together.");
        }

        console.MarkupLine($"[bold]Secrets[/]: requests that reached a host with a Proxy-Authorization header: {(world.LeakedProxyAuthorization == 0 ? "[green]0[/]" : $"[red]{world.LeakedProxyAuthorization}[/]")}.");
        var failed = stats.Failed;
        var coordination = stats.CoordinationUnavailable;
        var limitsHeld = violations == 0 && globalOk;
        var (code, verdict) = cutAt is not null
            ? (DemoOptions.ExitDeadline, $"[red bold]The run was cut short at its deadline: {stats.Total - stats.Done:N0} request(s) did not end.[/]")
            : coordination > 0
                ? (DemoOptions.ExitCoordinationUnavailable, $"[red bold]{coordination:N0} request(s) failed because Redis could not be reached (CoordinationUnavailable).[/]")
                : !limitsHeld || world.LeakedProxyAuthorization > 0
                    ? (DemoOptions.ExitFailed, "[red bold]A limit was exceeded or a credential reached a host.[/]")
                    : failed > 0
                        ? (DemoOptions.ExitFailed, $"[red bold]{failed:N0} request(s) failed (see the outcomes above); every limit held and no credential reached a host.[/]")
                        : (DemoOptions.ExitOk, "[green bold]Every request was answered, every limit held, no credential reached a host.[/]");
        console.MarkupLine(verdict);
        console.MarkupLine($"Exit code {code}.");
        return code;
    }

    private static string Describe(Site site) => site.Kind switch
    {
        SiteKind.Fast => "fast",
        SiteKind.Slow => $"slow, {site.LatencyMs.Min}-{site.LatencyMs.Max} ms",
        SiteKind.Strict => "strict: 2 at once, 20/s, else 429",
        SiteKind.Blocking => "403 to 2 proxies",
        SiteKind.Large => $"large pages, {site.PageKb} KiB",
        SiteKind.Secure => "https (CONNECT tunnels)",
        _ => "shop, sessions",
    };

    /// <summary>What the run has seen so far; <see cref="Record"/> is called from the one consuming loop.</summary>
    private sealed class RunStats(int total)
    {
        private int _done;
        private int _parsed;

        public int Total { get; } = total;

        public int Done => Volatile.Read(ref _done);

        public int Parsed => Volatile.Read(ref _parsed);

        public long Products { get; private set; }

        public int ProcessingFailed { get; private set; }

        public ConcurrentDictionary<string, int> Outcomes { get; } = new(StringComparer.Ordinal);

        /// <summary>Gets the requests that ended without an answer.</summary>
        public int Failed { get; private set; }

        /// <summary>Gets the requests that failed because Redis could not be reached.</summary>
        public int CoordinationUnavailable { get; private set; }

        public Dictionary<string, (HashSet<string> Proxies, int Rebinds)> Sessions { get; } = new(StringComparer.Ordinal);

        private readonly object _lock = new();

        public void Record(ProcessedResult<CatalogueSummary> item)
        {
            lock (_lock)
            {
                RecordLocked(item);
            }
        }

        private void RecordLocked(ProcessedResult<CatalogueSummary> item)
        {
            var outcome = item.Status switch
            {
                ProcessedResultStatus.Succeeded when item.Response!.IsSuccessStatusCode => $"{(int)item.Response.StatusCode} parsed",
                ProcessedResultStatus.Succeeded => $"HTTP {(int)item.Response!.StatusCode} (after retries)",
                ProcessedResultStatus.ProcessingFailed => "parse failed",
                _ => item.Exception is RequestFailedException failed ? $"failed: {failed.Reason}" : $"failed: {item.Exception?.GetType().Name}",
            };
            Outcomes.AddOrUpdate(outcome, 1, static (_, n) => n + 1);
            if (item.Status == ProcessedResultStatus.Succeeded && item.Response!.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _parsed);
                Products += item.Value!.Products;
            }

            ProcessingFailed += item.Status == ProcessedResultStatus.ProcessingFailed ? 1 : 0;
            if (item.Status is not (ProcessedResultStatus.Succeeded or ProcessedResultStatus.ProcessingFailed))
            {
                Failed++;
                CoordinationUnavailable += item.Exception is RequestFailedException { Reason: RequestFailureReason.CoordinationUnavailable } ? 1 : 0;
            }
            if (item.Request?.SessionKey is { } key && item.Response?.Proxy is { } proxy)
            {
                var entry = Sessions.TryGetValue(key, out var e) ? e : ([], 0);
                entry.Proxies.Add(proxy.Id);
                Sessions[key] = (entry.Proxies, entry.Rebinds + (item.Response.SessionRebound ? 1 : 0));
            }

            Interlocked.Increment(ref _done);
        }
    }
}
