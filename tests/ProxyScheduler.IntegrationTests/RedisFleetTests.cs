using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Redis;
using ProxyScheduler.Redis.Internal;
using ProxyScheduler.Testing;
using Xunit.Abstractions;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// Distributed mode against a real redis-server on a free loopback port (persistence off, stopped by pid): worker
/// processes (tests/ProxyScheduler.FleetWorker) and in-process schedulers sharing one key prefix, against the
/// Kestrel target that counts requests in flight per host.
/// </summary>
public sealed class RedisFleetTests(TargetServerFixture fixture, ITestOutputHelper output) : IClassFixture<TargetServerFixture>
{
    private static readonly string BinDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.FullName;
    private static readonly string WorkerDll = Path.GetFullPath(Path.Combine(BinDirectory, "..", "..", "..", "ProxyScheduler.FleetWorker", "bin",
        new DirectoryInfo(BinDirectory).Name, "net10.0", "ProxyScheduler.FleetWorker.dll"));

    private TargetServer Server => fixture.Server;

    [SkippableFact]
    public async Task ThreeWorkerProcesses_TogetherNeverExceedAHostsLimit()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var hosts = Server.Hosts.Skip(20).Take(3).ToList();
        foreach (var host in hosts)
        {
            Server.SetLatency(host, 5, 25);
            Server.Counter(host).Reset();
        }

        var prefix = $"t{Guid.NewGuid():N}:";
        var workers = Enumerable.Range(1, 3).Select(i => FleetWorker.Start(WorkerDll, redis.Port, prefix, $"w{i}", string.Join(',', hosts), requests: 1_000, perHost: 4)).ToList();
        try
        {
            var summaries = await Task.WhenAll(workers.Select(w => w.WaitForSummaryAsync(TimeSpan.FromMinutes(3))));

            summaries.Should().OnlyContain(s => s.GetProperty("ok").GetInt32() == 1_000, "every request of every worker completed");
            foreach (var host in hosts)
            {
                var counter = Server.Counter(host);
                output.WriteLine($"{host}: received {counter.Received}, max in flight {counter.MaxInFlight}");
                counter.MaxInFlight.Should().BeLessThanOrEqualTo(4, "the three workers together stay within the host's limit").And.BeGreaterThanOrEqualTo(2);
            }

            hosts.Sum(h => Server.Counter(h).Received).Should().BeGreaterThanOrEqualTo(3_000, "the target served every request");
            var roundTrips = summaries.Sum(s => s.GetProperty("roundTrips").GetInt64());
            output.WriteLine($"Redis round trips: {roundTrips} for 3,000 requests ({roundTrips / 3000.0:0.00} per request)");
            (roundTrips / 3000.0).Should().BeLessThanOrEqualTo(1.0, "on average no more than one Redis round trip per request");
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
            foreach (var host in hosts)
            {
                Server.SetLatency(host, 0, 0);
            }
        }
    }

    [SkippableFact]
    public async Task KilledWorker_ItsSharesComeBackWithinTheTtl()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var host = Server.Hosts[23];
        var prefix = $"t{Guid.NewGuid():N}:";
        var ttl = TimeSpan.FromSeconds(2);
        using var holder = FleetWorker.Start(WorkerDll, redis.Port, prefix, "doomed", new Uri(host, "delay/60000").ToString(), requests: 4, perHost: 4, ttl: ttl);
        await Eventually.TrueAsync(() => Server.Counter(host).InFlight == 4, "the worker holds all 4 shares, its requests in flight", 30_000);

        holder.Kill();
        var killedAt = Stopwatch.GetTimestamp();
        await using var survivor = Scheduler(redis.Port, prefix, ttl, perHost: 4);
        Server.Counter(host).Reset();
        var requests = Enumerable.Range(0, 4).Select(i => survivor.Scheduler.SendAsync(new ScheduledRequest(new Uri(host, $"delay/300?s={i}")))).ToList();
        // The dead worker's leases would hold the host's 4 shares for as long as its requests take (60 s): the survivor
        // gets all 4 back only because they expire after the TTL. A bounded condition wait, far above the TTL, shows it
        // without timing this machine; the time is printed.
        await Eventually.TrueAsync(() => Server.Counter(host).MaxInFlight == 4, "the survivor regained the host's full capacity (the leases expired)", 30_000);
        var responses = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30));
        var regained = Stopwatch.GetElapsedTime(killedAt);

        responses.Should().OnlyContain(r => r.IsSuccessStatusCode);
        output.WriteLine($"all 4 shares back after {regained.TotalSeconds:0.00} s (TTL {ttl.TotalSeconds} s)");
        Server.Counter(host).MaxInFlight.Should().Be(4, "the survivor regained the host's full capacity");
    }

    [SkippableFact]
    public async Task RetryAfterAndProxyHealth_SeenByOneWorker_AreHonouredByTheOther()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        await using var good = new ForwardProxyServer(new ForwardProxyBehavior());
        var dead = $"http://127.0.0.1:{ExternalServer.FreePort()}";
        var proxies = new[] { $"http://127.0.0.1:{good.Port}", dead };
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var first = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
        await using var second = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
        var deadId = ProxyEndpoint.Parse(dead).Id;

        // The first worker finds the dead proxy (quarantined at its first failure); the second must learn it.
        for (var i = 0; i < 10 && first.Scheduler.GetSnapshot().Proxies.Single(p => p.Id == deadId).State == ProxyHealthState.Healthy; i++)
        {
            await first.Scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[24], $"?f={i}")));
        }

        first.Scheduler.GetSnapshot().Proxies.Single(p => p.Id == deadId).State.Should().Be(ProxyHealthState.Quarantined);
        await Eventually.TrueAsync(() => second.Scheduler.GetSnapshot().Proxies.Single(p => p.Id == deadId).State == ProxyHealthState.Quarantined,
            "the second worker honours the quarantine within about a second", 2_000);
        var viaSecond = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => second.Scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[24], $"?s={i}")))));
        viaSecond.Should().OnlyContain(r => r.Proxy!.Id != deadId && r.ProxiesTried.Count == 1, "the second worker never tried the dead proxy");

        // A Retry-After seen by the first pauses the host for the second too.
        var host = Server.Hosts[25];
        var paused = await first.Scheduler.SendAsync(new ScheduledRequest(new Uri(host, "status/429?retryAfter=5")));
        paused.StatusCode.Should().Be(System.Net.HttpStatusCode.TooManyRequests);
        await Eventually.TrueAsync(() => second.Scheduler.GetSnapshot().Hosts.Any(h => h.Host == $"127.0.0.1:{host.Port}" && h.PausedUntil > DateTimeOffset.UtcNow.AddSeconds(3)),
            "the second worker pauses the host too", 2_000);
    }

    [SkippableFact]
    public async Task WorkQueue_TenThousandRequests_ThreeWorkerProcesses_OneKilled_EveryRequestHasExactlyOneOutcome()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var hosts = Server.Hosts.Skip(17).Take(3).ToList();
        foreach (var host in hosts)
        {
            Server.SetLatency(host, 5, 15);
        }

        var prefix = $"t{Guid.NewGuid():N}:";
        var marker = Guid.NewGuid().ToString("N");
        await using var producer = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 8, queue: "crawl");
        var ids = await producer.Queue.AddAsync(Enumerable.Range(0, 10_000).Select(i => new ScheduledRequest(new Uri(hosts[i % 3], $"?m={marker}&i={i}"))));
        ids.Should().HaveCount(10_000).And.OnlyHaveUniqueItems();

        var workers = Enumerable.Range(1, 3).Select(i => FleetWorker.Start(WorkerDll, redis.Port, prefix, $"q{i}", string.Empty, 0, perHost: 8, queue: "crawl")).ToList();
        try
        {
            await Eventually.TrueAsync(() => producer.Queue.GetStatusAsync().GetAwaiter().GetResult().Completed >= 3_000, "the workers are a third of the way", 120_000);
            workers[0].Kill();
            var killedAt = producer.Queue.GetStatusAsync().GetAwaiter().GetResult();
            output.WriteLine($"killed q1 at {killedAt}");

            var summaries = await Task.WhenAll(workers.Skip(1).Select(w => w.WaitForSummaryAsync(TimeSpan.FromMinutes(3))));
            var status = await producer.Queue.GetStatusAsync();
            output.WriteLine($"final: {status}; survivors: {string.Join(" ", summaries.Select(s => s.ToString()))}");

            status.Added.Should().Be(10_000);
            status.Completed.Should().Be(10_000, "every request has exactly one recorded outcome");
            status.Pending.Should().Be(0, "nothing is left unacknowledged, not even the killed worker's entries");
            status.DeadLettered.Should().Be(0);
            await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
            var db = admin.GetDatabase();
            (await db.HashLengthAsync($"{prefix}queue:crawl:outcomes")).Should().Be(10_000);
            (await db.StreamLengthAsync($"{prefix}queue:crawl:results")).Should().Be(10_000, "a duplicate is counted, never written twice");
            Server.Log.Count(l => l.PathAndQuery.Contains(marker, StringComparison.Ordinal)).Should().BeGreaterThanOrEqualTo(10_000);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
            foreach (var host in hosts)
            {
                Server.SetLatency(host, 0, 0);
            }
        }
    }

    [SkippableFact]
    public async Task WorkQueue_AHungWorkersEntriesAreClaimed_AndItsLateOutcomesAreDuplicates_NotRecordedTwice()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var producer = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 32, queue: "slow", claimIdle: TimeSpan.FromMilliseconds(500));
        await producer.Queue.AddAsync(Enumerable.Range(0, 20).Select(i => new ScheduledRequest(new Uri(Server.Hosts[16], $"delay/1500?d={i}"))));

        // The first worker takes all 20 entries, then hangs (SIGSTOP) with their requests in flight.
        using var hung = FleetWorker.Start(WorkerDll, redis.Port, prefix, "hung", string.Empty, 0, perHost: 32, queue: "slow");
        await Eventually.TrueAsync(() => producer.Queue.GetStatusAsync().GetAwaiter().GetResult().Pending == 20, "the first worker holds all 20 entries", 30_000);
        hung.Signal("STOP");

        // The second claims them once they were idle for 500 ms, and does them.
        using var stop = new CancellationTokenSource();
        var outcomes = new ConcurrentQueue<WorkQueueOutcome>();
        var run = producer.Queue.RunAsync(o => { outcomes.Enqueue(o); return ValueTask.CompletedTask; }, stop.Token);
        await Eventually.TrueAsync(() => producer.Queue.GetStatusAsync().GetAwaiter().GetResult().IsDrained, "the second worker did every entry", 30_000);
        outcomes.Should().HaveCount(20).And.OnlyContain(o => o.Recorded && o.Deliveries >= 2, "claimed entries know they were delivered again");

        // The first wakes up, finishes its requests, and finds every outcome recorded already.
        hung.Signal("CONT");
        var summary = await hung.WaitForSummaryAsync(TimeSpan.FromMinutes(1));
        await stop.CancelAsync();
        await run;

        var status = await producer.Queue.GetStatusAsync();
        status.Completed.Should().Be(20);
        status.Duplicates.Should().Be(summary.GetProperty("duplicates").GetInt32()).And.BeGreaterThan(0, "the hung worker's late outcomes are reported as duplicates");
        summary.GetProperty("recorded").GetInt32().Should().Be(0);
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        (await admin.GetDatabase().StreamLengthAsync($"{prefix}queue:slow:results")).Should().Be(20, "never written twice");
    }

    [SkippableFact]
    public async Task WorkQueue_StoppedAndStartedAgain_ContinuesWhereItWas()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var prefix = $"t{Guid.NewGuid():N}:";
        var host = Server.Hosts[15];
        Server.SetLatency(host, 5, 10);
        try
        {
            await using (var producer = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, queue: "resume"))
            {
                await producer.Queue.AddAsync(Enumerable.Range(0, 600).Select(i => new ScheduledRequest(new Uri(host, $"?r={i}"))));
            }

            // First run: stopped part-way (every worker stops; requests in flight are abandoned unacknowledged).
            using (var stop = new CancellationTokenSource())
            {
                await using var worker = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, queue: "resume");
                var run = worker.Queue.RunAsync(null, stop.Token);
                await Eventually.TrueAsync(() => worker.Queue.GetStatusAsync().GetAwaiter().GetResult().Completed >= 200, "part of the queue is done");
                await stop.CancelAsync();
                await run;
                var paused = await worker.Queue.GetStatusAsync();
                output.WriteLine($"paused at {paused}");
                paused.IsDrained.Should().BeFalse();
            }

            // Second run, a new process's worker: it claims what the first left pending and takes the rest.
            using (var stop = new CancellationTokenSource())
            {
                await using var worker = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, queue: "resume", claimIdle: TimeSpan.FromMilliseconds(300));
                var run = worker.Queue.RunAsync(null, stop.Token);
                await Eventually.TrueAsync(() => worker.Queue.GetStatusAsync().GetAwaiter().GetResult().IsDrained, "the queue is done", 60_000);
                await stop.CancelAsync();
                await run;
                var done = await worker.Queue.GetStatusAsync();
                done.Completed.Should().Be(600);
                done.Pending.Should().Be(0);
            }
        }
        finally
        {
            Server.SetLatency(host, 0, 0);
        }
    }

    [SkippableFact]
    public async Task ABlockByAHost_SeenByOneWorker_IsHonouredByTheOther()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        await using var blockedProxy = new ForwardProxyServer(new ForwardProxyBehavior { OutgoingAddress = System.Net.IPAddress.Parse("127.0.0.55") });
        await using var goodProxy = new ForwardProxyServer(new ForwardProxyBehavior { OutgoingAddress = System.Net.IPAddress.Parse("127.0.0.56") });
        var prefix = $"t{Guid.NewGuid():N}:";
        string[] proxies = [$"http://127.0.0.1:{blockedProxy.Port}", $"http://127.0.0.1:{goodProxy.Port}"];
        var blockedId = ProxyEndpoint.Parse(proxies[0]).Id;
        await using var first = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
        await using var second = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
        var target = new Uri(Server.Hosts[8], "block-from/127.0.0.55");
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var announced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await admin.GetSubscriber().SubscribeAsync(StackExchange.Redis.RedisChannel.Literal(prefix + "events"), (_, message) =>
        {
            if (((string?)message ?? string.Empty).Contains($"|Blocked|{blockedId}|", StringComparison.Ordinal))
            {
                announced.TrySetResult();
            }
        });

        await Eventually.TrueAsync(() => second.Coordinator.IsListening, "the second worker listens to the fleet");

        // The first worker meets the block (403 through the first proxy, then the page through the other).
        for (var i = 0; i < 20 && blockedProxy.Forwarded == 0; i++)
        {
            (await first.Scheduler.SendAsync(new ScheduledRequest(new Uri(target, $"?f={i}")))).StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        }

        blockedProxy.Forwarded.Should().BeGreaterThan(0, "the first worker went through the proxy the host blocks");
        var before = blockedProxy.Forwarded;
        await announced.Task.WaitAsync(TimeSpan.FromSeconds(2)); // the block is announced to the fleet within about a second
        var viaSecond = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => second.Scheduler.SendAsync(new ScheduledRequest(new Uri(target, $"?s={i}")))));

        viaSecond.Should().OnlyContain(r => r.StatusCode == System.Net.HttpStatusCode.OK && r.Proxy!.Id != blockedId);
        blockedProxy.Forwarded.Should().Be(before, "the second worker never sent to the host through the proxy it blocks");
    }

    [SkippableFact]
    public async Task TwoWorkersWithTheSameWorkerId_TheSecondIsRefused_WithAClearError_TheFirstGoesOn()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var first = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(2), perHost: 4, workerId: "worker-7");
        (await first.Scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[14], "status/200?first")))).IsSuccessStatusCode.Should().BeTrue();
        await using var second = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(2), perHost: 4, workerId: "worker-7");

        var refused = await FluentActions.Awaiting(() => second.Scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[14], "status/200?second"))).WaitAsync(TimeSpan.FromSeconds(30)))
            .Should().ThrowAsync<RequestFailedException>();

        refused.Which.Reason.Should().Be(RequestFailureReason.CoordinationUnavailable);
        refused.Which.Message.Should().Contain("WorkerId 'worker-7'").And.Contain("Give each worker its own WorkerId");
        second.Coordinator.WorkerIdConflict.Should().NotBeNull();
        first.Coordinator.WorkerIdConflict.Should().BeNull("the worker that held the name first keeps it");
        Server.Log.Should().NotContain(l => l.PathAndQuery == "/status/200?second", "the refused worker sends nothing");
        (await first.Scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[14], "status/200?again")))).IsSuccessStatusCode.Should().BeTrue();
    }

    [SkippableFact]
    public async Task PerProxyLimit_HoldsForTheFleet_NotPerWorker()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior());
        var prefix = $"t{Guid.NewGuid():N}:";
        string[] proxies = [$"http://127.0.0.1:{proxy.Port}"];
        await using var a = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 16, proxies, perProxy: 3);
        await using var b = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 16, proxies, perProxy: 3);

        var runs = new[] { a, b }.Select((w, n) => w.Scheduler.SendAllAsync(Enumerable.Range(0, 40)
            .Select(i => new ScheduledRequest(new Uri(Server.Hosts[10 + (i % 4)], $"delay/50?w={n}&i={i}")))).ToListAsync().AsTask());
        var outcomes = (await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(1))).SelectMany(o => o).ToList();

        outcomes.Should().HaveCount(80).And.OnlyContain(o => o.Response != null && o.Response.IsSuccessStatusCode);
        output.WriteLine($"the proxy carried at most {proxy.MaxInFlight} requests at once for the two workers");
        proxy.MaxInFlight.Should().BeLessThanOrEqualTo(3, "the proxy's limit of 3 holds for the fleet, as a provider counts it").And.BeGreaterThanOrEqualTo(2);
        proxy.Forwarded.Should().Be(80);
    }

    [SkippableFact]
    public async Task PerProxyPacing_HoldsForTheFleet_NotPerWorker()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior());
        var prefix = $"t{Guid.NewGuid():N}:";
        string[] proxies = [$"http://127.0.0.1:{proxy.Port}"];
        await using var a = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 16, proxies, proxyDelay: TimeSpan.FromMilliseconds(100));
        await using var b = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 16, proxies, proxyDelay: TimeSpan.FromMilliseconds(100));
        var marker = Guid.NewGuid().ToString("N");

        var runs = new[] { a, b }.Select((w, n) => w.Scheduler.SendAllAsync(Enumerable.Range(0, 20)
            .Select(i => new ScheduledRequest(new Uri(Server.Hosts[9], $"?m={marker}&w={n}&i={i}")))).ToListAsync().AsTask());
        var outcomes = (await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(1))).SelectMany(o => o).ToList();

        outcomes.Should().HaveCount(40).And.OnlyContain(o => o.Response != null && o.Response.IsSuccessStatusCode);
        var arrivals = Server.Log.Where(l => l.PathAndQuery.Contains(marker, StringComparison.Ordinal)).Select(l => l.At).Order().ToArray();
        var span = arrivals[^1] - arrivals[0];
        output.WriteLine($"40 starts through one proxy paced at 100 ms by two workers took {span.TotalSeconds:0.00} s");
        span.Should().BeGreaterThan(TimeSpan.FromSeconds(3.5), "the fleet keeps 100 ms between two starts through the proxy: 39 gaps, about 3.9 s, not half of it");
        var gaps = arrivals.Zip(arrivals.Skip(1), (x, y) => y - x).ToList();
        gaps.Count(g => g < TimeSpan.FromMilliseconds(50)).Should().BeLessThanOrEqualTo(2, "almost no two starts through the proxy come closer than half its delay");
    }

    [SkippableFact]
    public async Task RateLimit_HoldsForTheFleet_NotPerWorker()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var host = Server.Hosts[19];
        var prefix = $"t{Guid.NewGuid():N}:";
        await using var a = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 8, rateLimit: 40);
        await using var b = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 8, rateLimit: 40);
        var marker = Guid.NewGuid().ToString("N");

        var runs = new[] { a, b }.Select((w, n) => w.Scheduler.SendAllAsync(Enumerable.Range(0, 80).Select(i => new ScheduledRequest(new Uri(host, $"?m={marker}&w={n}&i={i}")))).ToListAsync().AsTask());
        var outcomes = (await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(1))).SelectMany(o => o).ToList();

        outcomes.Should().HaveCount(160).And.OnlyContain(o => o.Response != null && o.Response.IsSuccessStatusCode);
        var arrivals = Server.Log.Where(l => l.Port == host.Port && l.PathAndQuery.Contains(marker, StringComparison.Ordinal)).Select(l => l.At).Order().ToArray();
        arrivals.Should().HaveCount(160);
        var span = arrivals[^1] - arrivals[0];
        output.WriteLine($"160 requests from two workers at a fleet rate of 40/s (burst 2) took {span.TotalSeconds:0.00} s");
        span.Should().BeGreaterThan(TimeSpan.FromSeconds(3.5), "together the workers start at most 40 a second: (160 - 2) / 40 = 3.95 s, not half of it");
        for (var i = 0; i < arrivals.Length; i++)
        {
            arrivals.Count(t => t >= arrivals[i] && t < arrivals[i] + TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(44, "no second holds more than the rate plus the burst (and a little arrival jitter)");
        }
    }

    [SkippableFact]
    public async Task PausePolicy_RequestsWaitAtMostTheUnavailableTimeout_ThenFailWithTheirReason()
    {
        RealServer.Require("redis-server");
        var redis = await ExternalServer.StartRedisAsync();
        var services = new ServiceCollection();
        services.AddProxyScheduler(o => o.Retry.MaxRetries = 0)
            .UseRedis($"127.0.0.1:{redis.Port}", o =>
            {
                o.KeyPrefix = $"t{Guid.NewGuid():N}:";
                o.UnavailableTimeout = TimeSpan.FromSeconds(2);
            });
        await using var provider = services.BuildServiceProvider();
        var scheduler = provider.GetRequiredService<IRequestScheduler>();
        (await scheduler.SendAsync(new ScheduledRequest(Server.Hosts[29]))).IsSuccessStatusCode.Should().BeTrue("with Redis up, requests go");

        await Eventually.TrueAsync(() => scheduler.GetSnapshot().Hosts.All(h => h.FleetShares is null or 0), "the idle share went back after its linger");
        await redis.DisposeAsync();
        // Bounded by a 30 s hang guard, not by this machine's speed: that the wait ends at the coordinator's timeout is
        // what the failure's reason and message say.
        var act = () => scheduler.SendAsync(new ScheduledRequest(new Uri(Server.Hosts[29], "?after=kill"))).WaitAsync(TimeSpan.FromSeconds(30));

        var failure = (await act.Should().ThrowAsync<RequestFailedException>()).Which;
        failure.Reason.Should().Be(RequestFailureReason.CoordinationUnavailable);
        failure.Message.Should().Contain("UnavailableTimeout");
    }

    [Fact]
    public void BadRedisOptions_FailAtStartUp_NamingTheKeys_WithoutThePassword()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler().UseRedis("127.0.0.1:1,password=hunter2-secret,nosuchoption=1", o =>
        {
            o.KeyPrefix = "bad prefix";
            o.LeaseTtl = TimeSpan.Zero;
            o.FallbackShare = 2;
        });
        using var provider = services.BuildServiceProvider();

        var act = () => provider.GetRequiredService<IRequestScheduler>();

        var message = act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().Which.Message;
        message.Should().Contain("ProxyScheduler:Redis:KeyPrefix").And.Contain("ProxyScheduler:Redis:LeaseTtl").And.Contain("ProxyScheduler:Redis:FallbackShare")
            .And.Contain("ProxyScheduler:Redis:Configuration").And.NotContain("hunter2");
    }

    [SkippableFact]
    public async Task Session_SentAlternatelyThroughTwoWorkers_KeepsOneProxyIdentity()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();
        var servers = Enumerable.Range(0, 4).Select(i => new ForwardProxyServer(new ForwardProxyBehavior { OutgoingAddress = System.Net.IPAddress.Parse($"127.0.0.{40 + i}") })).ToList();
        try
        {
            var proxies = servers.Select(p => $"http://127.0.0.1:{p.Port}").ToArray();
            var prefix = $"t{Guid.NewGuid():N}:";
            await using var a = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
            await using var b = Scheduler(redis.Port, prefix, TimeSpan.FromSeconds(10), perHost: 4, proxies);
            var target = new Uri(Server.Hosts[28], "whoami");

            foreach (var session in new[] { "alice-secret-session", "bob-secret-session", "carol-secret-session" })
            {
                var exits = new List<string>();
                for (var i = 0; i < 8; i++)
                {
                    var worker = i % 2 == 0 ? a : b;
                    var response = await worker.Scheduler.SendAsync(new ScheduledRequest(target) { SessionKey = session });
                    exits.Add(response.ReadBodyAsString());
                }

                exits.Distinct().Should().ContainSingle($"session {session[..5]} kept one exit address through both workers ({string.Join(", ", exits)})");
            }

            // The Redis keys name sessions by a hash: the keys themselves are not in Redis.
            await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
            var keys = admin.GetServer($"127.0.0.1:{redis.Port}").Keys(pattern: prefix + "session:*").Select(k => (string)k!).ToList();
            keys.Should().HaveCount(3).And.NotContain(k => k.Contains("secret", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    [SkippableTheory]
    [InlineData(RedisUnavailablePolicy.Pause)]
    [InlineData(RedisUnavailablePolicy.FallbackToLocal)]
    public async Task RedisKilledMidRun_ThePolicyIsFollowed_AndTheRunCompletes(RedisUnavailablePolicy policy)
    {
        RealServer.Require("redis-server");
        var redis = await ExternalServer.StartRedisAsync();
        var port = redis.Port;
        var hosts = Server.Hosts.Skip(26).Take(2).ToList();
        foreach (var host in hosts)
        {
            Server.SetLatency(host, 20, 40);
            Server.Counter(host).Reset();
        }

        try
        {
            await using var worker = Scheduler(port, $"t{Guid.NewGuid():N}:", TimeSpan.FromSeconds(2), perHost: 4, policy: policy);
            var run = worker.Scheduler.SendAllAsync(Enumerable.Range(0, 1_500).Select(i => new ScheduledRequest(new Uri(hosts[i % 2], $"?i={i}")))).ToListAsync().AsTask();
            await Eventually.TrueAsync(() => hosts.Sum(h => Server.Counter(h).Received) >= 100, "the run is under way");

            await redis.DisposeAsync();
            await Eventually.TrueAsync(() => !worker.Coordinator.IsAvailable, "the worker notices Redis is gone", 10_000);
            HostSnapshot[] Mine() => [.. worker.Scheduler.GetSnapshot().Hosts.Where(h => hosts.Any(x => h.Host == $"127.0.0.1:{x.Port}"))];
            if (policy == RedisUnavailablePolicy.Pause)
            {
                // Fail closed: once the leases could not be renewed for a TTL, nothing more starts to the hosts.
                await Eventually.TrueAsync(() => Mine().All(h => h.FleetShares == 0 && h.InFlight == 0) && hosts.All(h => Server.Counter(h).InFlight == 0),
                    "the worker gave up its shares and paused", 10_000);
                Mine().Sum(h => h.Queued).Should().BeGreaterThan(0, $"the rest of the run waits for Redis ({hosts.Sum(h => Server.Counter(h).Received)} received; run completed: {run.IsCompleted})");
            }
            else
            {
                await Eventually.TrueAsync(() => Mine().All(h => h.FleetShares <= 1), "once the fleet's leases lapse, a host keeps 25 % of its limit of 4: one share", 10_000);
                var atFallback = hosts.Sum(h => Server.Counter(h).Received);
                await Eventually.TrueAsync(() => hosts.Sum(h => Server.Counter(h).Received) >= atFallback + 30, "the worker goes on alone at its fallback share", 10_000);
            }

            redis = await ExternalServer.StartRedisAsync(port);
            await Eventually.TrueAsync(() => worker.Coordinator.IsAvailable, "the worker finds Redis back", 10_000);
            if (policy == RedisUnavailablePolicy.FallbackToLocal)
            {
                await Eventually.TrueAsync(() => run.IsCompleted || Mine().Any(h => h.FleetShares > 1), "the fleet's shares replace the local one", 10_000);
            }

            var outcomes = await run.WaitAsync(TimeSpan.FromMinutes(2));

            outcomes.Should().HaveCount(1_500).And.OnlyContain(o => o.Response != null && o.Response.IsSuccessStatusCode, "no request was lost or failed");
            hosts.Should().OnlyContain(h => Server.Counter(h).MaxInFlight <= 4);
        }
        finally
        {
            await redis.DisposeAsync();
            foreach (var host in hosts)
            {
                Server.SetLatency(host, 0, 0);
            }
        }
    }

    private static Worker Scheduler(int redisPort, string prefix, TimeSpan ttl, int perHost, string[]? proxies = null, RedisUnavailablePolicy policy = RedisUnavailablePolicy.Pause, double? rateLimit = null,
        string? queue = null, TimeSpan? claimIdle = null, int? perProxy = null, TimeSpan? proxyDelay = null, string? workerId = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(o =>
            {
                o.DefaultHost.MaxConcurrency = perHost;
                o.DefaultHost.RateLimit = rateLimit;
                o.DefaultHost.RateLimitBurst = rateLimit is null ? null : 2;
                o.Retry.MaxRetries = 0;
                o.ProxyPool.QuarantineAfter = 1;
                o.ProxyPool.QuarantineBaseDelay = TimeSpan.FromMinutes(5);
                o.ProxyPool.MaxConcurrencyPerProxy = perProxy ?? 32;
                o.ProxyPool.MinDelayPerProxy = proxyDelay ?? TimeSpan.Zero;
            })
            .UseRedis($"127.0.0.1:{redisPort}", o =>
            {
                o.KeyPrefix = prefix;
                o.LeaseTtl = ttl;
                o.WhenUnavailable = policy;
                o.UnavailableTimeout = TimeSpan.FromMinutes(1);
                o.WorkerId = workerId;
            });
        if (proxies is not null)
        {
            builder.AddProxies(proxies);
        }

        if (queue is not null)
        {
            builder.AddRedisWorkQueue(o =>
            {
                o.Name = queue;
                o.ClaimIdle = claimIdle ?? TimeSpan.FromSeconds(2);
            });
        }

        var provider = services.BuildServiceProvider();
        return new Worker(provider);
    }

    private sealed class Worker(ServiceProvider provider) : IAsyncDisposable
    {
        public IRequestScheduler Scheduler { get; } = provider.GetRequiredService<IRequestScheduler>();

        public RedisFleetCoordinator Coordinator => provider.GetRequiredService<RedisFleetCoordinator>();

        public RedisWorkQueue Queue => provider.GetRequiredService<RedisWorkQueue>();

        public ValueTask DisposeAsync() => provider.DisposeAsync();
    }

    /// <summary>A FleetWorker process: started, read line by line, killed by pid.</summary>
    private sealed class FleetWorker : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        private FleetWorker(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => _lines.Enqueue(e.Data ?? string.Empty);
            process.ErrorDataReceived += (_, e) => _lines.Enqueue(e.Data ?? string.Empty);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public static FleetWorker Start(string dll, int redisPort, string prefix, string name, string urls, int requests, int perHost, TimeSpan? ttl = null, string? queue = null)
        {
            File.Exists(dll).Should().BeTrue($"the fleet worker is built with the solution ({dll})");
            List<string> args = [dll, "--redis", $"127.0.0.1:{redisPort}", "--prefix", prefix, "--name", name,
                "--requests", requests.ToString(System.Globalization.CultureInfo.InvariantCulture), "--per-host", perHost.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--ttl-ms", ((int)(ttl ?? TimeSpan.FromSeconds(10)).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)];
            args.AddRange(queue is null ? ["--urls", urls] : ["--queue", queue, "--claim-ms", "2000"]);
            var info = new ProcessStartInfo("dotnet", args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            return new FleetWorker(Process.Start(info)!);
        }

        public async Task<JsonElement> WaitForSummaryAsync(TimeSpan timeout)
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            var summary = _lines.LastOrDefault(l => l.StartsWith('{'));
            summary.Should().NotBeNull($"the worker printed its summary (exit {_process.ExitCode}): {string.Join('\n', _lines)}");
            return JsonDocument.Parse(summary!).RootElement;
        }

        /// <summary>Sends a signal (STOP, CONT) to the process.</summary>
        public void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        /// <summary>SIGKILL: the process dies holding its leases.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }
    }
}
