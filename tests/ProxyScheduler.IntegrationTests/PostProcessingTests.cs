using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The post-processing stage against a real Kestrel server on loopback, which counts the requests it receives.</summary>
public sealed class PostProcessingTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>, IDisposable
{
    private ServiceProvider? _provider;

    private TargetServer Server => fixture.Server;

    public void Dispose() => _provider?.Dispose();

    private IRequestScheduler CreateSut(Action<ProxySchedulerOptions> configure, Action<IProxySchedulerBuilder>? build = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(configure);
        build?.Invoke(builder);
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        return _provider.GetRequiredService<IRequestScheduler>();
    }

    private long Received(IEnumerable<Uri> hosts) => hosts.Sum(h => Server.Counter(h).Received);

    [Fact]
    public async Task ProcessAllAsync_ProcessorsBlocked_HoldsAtMostCapacityFetchedResponses_AndFetchingResumesWithProcessing()
    {
        var hosts = Server.Hosts.Take(5).ToList();
        Server.SetLatency(0, 0);
        Server.ResetCounters();
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 32;
            o.DefaultHost.MaxConcurrency = 8;
        });
        using var gate = new SemaphoreSlim(0);
        var started = 0;
        var processed = 0;
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                Interlocked.Increment(ref started);
                gate.Wait(ct);
                Interlocked.Increment(ref processed);
                return response.BodyLength;
            })
            .WithOptions(o =>
            {
                o.MaxDegreeOfParallelism = 2;
                o.Capacity = 6;
            });

        // Sampled all along the run: responses the server was asked for minus responses processed.
        var maxUnprocessed = 0L;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            for (var i = 0; i < 200_000 && !stopSampling.IsCancellationRequested; i++)
            {
                var gap = Received(hosts) - Volatile.Read(ref processed);
                maxUnprocessed = Math.Max(maxUnprocessed, gap);
                await Task.Delay(1);
            }
        });

        var requests = Enumerable.Range(0, 200).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], $"?i={i}")));
        var run = pipeline.ProcessAllAsync(requests).ToListAsync().AsTask();

        await Eventually.TrueAsync(() => Volatile.Read(ref started) == 2 && Received(hosts) == 6 && sut.GetSnapshot().InFlight == 0,
            "two responses in the workers, four waiting for them, nothing in flight");
        var held = sut.GetSnapshot();
        held.Queued.Should().BeGreaterThan(100, "the rest of the batch waits in the host queues: the scheduler dispatches none of it");
        Received(hosts).Should().Be(6);

        gate.Release(10);
        await Eventually.TrueAsync(() => Volatile.Read(ref processed) == 10 && Received(hosts) == 16 && sut.GetSnapshot().InFlight == 0,
            "ten processed, so ten more fetched, and no more");

        gate.Release(1_000);
        var results = await run.WaitAsync(TimeSpan.FromSeconds(60));
        await stopSampling.CancelAsync();
        await sampler;

        results.Should().HaveCount(200).And.OnlyContain(r => r.Succeeded && r.Value == 2);
        results.Select(r => r.Index).Should().BeEquivalentTo(Enumerable.Range(0, 200).Select(i => (long)i));
        maxUnprocessed.Should().BeLessThanOrEqualTo(6, "fetched-but-unprocessed responses never exceed the capacity");
        Received(hosts).Should().Be(200, "no request is sent twice");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ProcessAllAsync_CpuBoundProcessor_RunsExactlyDegreeOfParallelismItemsAtOnce(int dop)
    {
        var host = Server.Hosts[5];
        Server.SetLatency(0, 0);
        var sut = CreateSut(o => o.DefaultHost.MaxConcurrency = 16);
        var current = 0;
        var max = 0;
        var reached = 0;
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                var now = Interlocked.Increment(ref current);
                threads[Environment.CurrentManagedThreadId] = true;
                int seen;
                while ((seen = Volatile.Read(ref max)) < now && Interlocked.CompareExchange(ref max, now, seen) != seen)
                {
                }

                // CPU-bound: parse the page, and until DOP items have been seen at once, keep parsing (bounded).
                var deadline = Environment.TickCount64 + 5_000;
                CatalogueSummary summary;
                do
                {
                    summary = CatalogueJson.Summarize(response.Body.Span);
                    if (Volatile.Read(ref current) >= dop)
                    {
                        Volatile.Write(ref reached, 1);
                    }
                }
                while (Volatile.Read(ref reached) == 0 && Environment.TickCount64 < deadline);

                Interlocked.Decrement(ref current);
                return summary;
            })
            .WithOptions(o => o.MaxDegreeOfParallelism = dop);

        var results = await pipeline.ProcessAllAsync(Enumerable.Range(0, 40).Select(i => new ScheduledRequest(new Uri(host, $"json/20?i={i}")))).ToListAsync();

        results.Should().HaveCount(40).And.OnlyContain(r => r.Succeeded && r.Value!.Products > 50);
        max.Should().Be(dop, "DOP workers process at once, never more");
        threads.Count.Should().Be(dop, "the stage runs on DOP workers of its own");
        threads.Keys.Should().NotContain(Environment.CurrentManagedThreadId);
    }

    [Fact]
    public async Task ProcessAllAsync_FetchAndProcessingFailures_FailTheirItemsOnly_AndAreToldApart()
    {
        var host = Server.Hosts[6];
        var closed = ClosedPort();
        var sut = CreateSut(o => o.Retry.MaxRetries = 0);
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                var i = int.Parse(response.RequestUri.Query.AsSpan(3), System.Globalization.CultureInfo.InvariantCulture);
                return i % 10 == 5 ? throw new InvalidOperationException("step 0 fails") : i;
            })
            .Then((i, response, ct) => i % 10 == 7 ? throw new FormatException("step 1 fails") : $"item {i}: {(int)response.StatusCode}");
        var requests = Enumerable.Range(0, 60).Select(i => new ScheduledRequest(i % 10 == 3 ? new Uri($"http://127.0.0.1:{closed}/?i={i}") : new Uri(host, $"?i={i}")));

        var results = (await pipeline.ProcessAllAsync(requests).ToListAsync()).OrderBy(r => r.Index).ToList();

        results.Should().HaveCount(60);
        pipeline.Steps.Should().Be(2);
        foreach (var r in results)
        {
            switch (r.Index % 10)
            {
                case 3:
                    r.Status.Should().Be(ProcessedResultStatus.FetchFailed);
                    r.Exception.Should().BeOfType<RequestFailedException>();
                    r.Response.Should().BeNull();
                    r.FailedStep.Should().BeNull();
                    break;
                case 5:
                    r.Status.Should().Be(ProcessedResultStatus.ProcessingFailed);
                    r.Exception.Should().BeOfType<InvalidOperationException>();
                    r.FailedStep.Should().Be(0);
                    r.Response!.StatusCode.Should().Be(HttpStatusCode.OK);
                    break;
                case 7:
                    r.Status.Should().Be(ProcessedResultStatus.ProcessingFailed);
                    r.Exception.Should().BeOfType<FormatException>();
                    r.FailedStep.Should().Be(1);
                    break;
                default:
                    r.Status.Should().Be(ProcessedResultStatus.Succeeded);
                    r.Value.Should().Be($"item {r.Index}: 200");
                    r.Request!.RequestUri.Query.Should().Be($"?i={r.Index}");
                    break;
            }
        }
    }

    [Fact]
    public async Task ProcessAllAsync_CanceledMidBatch_EndsPromptly_FreesEverySlot_AndTheNextBatchRunsAtFullConcurrency()
    {
        var hosts = Server.Hosts.Skip(7).Take(10).ToList();
        Server.SetLatency(0, 0);
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 16;
            o.DefaultHost.MaxConcurrency = 4;
        });
        var canceledInProcessor = 0;
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = sut.WithPostProcessor((response, ct) =>
        {
            if (response.RequestUri.Query.Contains("hold", StringComparison.Ordinal))
            {
                holding.TrySetResult();
                // A long computation that checks its token, as processors should.
                var deadline = Environment.TickCount64 + 30_000;
                while (!ct.IsCancellationRequested && Environment.TickCount64 < deadline)
                {
                    Thread.SpinWait(1_000);
                }

                if (ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref canceledInProcessor);
                }

                ct.ThrowIfCancellationRequested();
            }

            return response.BodyLength;
        }).WithOptions(o => o.MaxDegreeOfParallelism = 2);
        var requests = Enumerable.Range(0, 2_000).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], i >= 40 && i % 50 == 0 ? $"delay/100?hold={i}" : $"delay/100?i={i}")));
        using var cts = new CancellationTokenSource();
        var seen = 0;

        var run = async () =>
        {
            await foreach (var item in pipeline.ProcessAllAsync(requests, cts.Token))
            {
                Interlocked.Increment(ref seen);
            }
        };

        // Cancel mid-batch: some items out, a processor busy with a long item, many requests queued or in flight.
        var canceling = Task.Run(async () =>
        {
            await holding.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(() => Volatile.Read(ref seen) >= 30, "some items came out");
            await cts.CancelAsync();
        });
        await run.Should().ThrowAsync<OperationCanceledException>().WaitAsync(TimeSpan.FromSeconds(30));
        await canceling;
        seen.Should().BeGreaterThanOrEqualTo(30).And.BeLessThan(2_000);
        canceledInProcessor.Should().BeGreaterThan(0, "processors mid-way saw their token canceled");
        var snapshot = sut.GetSnapshot();
        snapshot.Pending.Should().Be(0, "every request of the batch has ended when the enumeration ends");
        snapshot.InFlight.Should().Be(0);
        snapshot.Queued.Should().Be(0);

        // Every slot is free: the next batch uses the whole global limit.
        await Eventually.TrueAsync(() => Server.GlobalInFlight == 0, "the server saw the aborted requests end");
        Server.ResetCounters();
        var next = await pipeline.ProcessAllAsync(Enumerable.Range(0, 200).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], $"delay/50?next={i}")))).ToListAsync();
        next.Should().HaveCount(200).And.OnlyContain(r => r.Succeeded);
        Server.GlobalMaxInFlight.Should().Be(16, "the follow-up batch runs at full concurrency");
    }

    [Fact]
    public async Task ProcessAllAsync_PreserveInputOrder_YieldsInInputOrderUnderRandomLatencies_WithinTheReorderWindow()
    {
        var hosts = Server.Hosts.Skip(17).Take(10).ToList();
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 32;
            o.DefaultHost.MaxConcurrency = 4;
        });
        var random = new Random(5);
        var produced = 0;
        async IAsyncEnumerable<ScheduledRequest> Source()
        {
            for (var i = 0; i < 300; i++)
            {
                Interlocked.Increment(ref produced);
                yield return new ScheduledRequest(new Uri(hosts[random.Next(hosts.Count)], $"delay/{random.Next(0, 40)}?i={i}"));
            }

            await Task.CompletedTask;
        }

        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                Thread.SpinWait(Random.Shared.Next(1, 200_000)); // uneven processing too
                return response.RequestUri.Query;
            })
            .WithOptions(o =>
            {
                o.PreserveInputOrder = true;
                o.ReorderWindow = 24;
            });

        var order = new List<long>();
        var maxAhead = 0;
        await foreach (var item in pipeline.ProcessAllAsync(Source()))
        {
            order.Add(item.Index);
            item.Value.Should().Be($"?i={item.Index}");
            maxAhead = Math.Max(maxAhead, Volatile.Read(ref produced) - order.Count);
        }

        order.Should().Equal(Enumerable.Range(0, 300).Select(i => (long)i), "items come out in the order of the source");
        maxAhead.Should().BeLessThanOrEqualTo(24 + 1, "the source is read at most the reorder window ahead of the consumer");
    }

    [Fact]
    public async Task ProcessAllAsync_BodiesLiveInPooledBuffers_ThatAllGoBack_AlsoForRetriedResponses()
    {
        var host = Server.Hosts[27];
        var sut = CreateSut(o =>
        {
            o.Retry.MaxRetries = 2;
            o.Retry.BaseDelay = TimeSpan.FromMilliseconds(1);
            o.Retry.UseJitter = false;
        });
        var pool = new CountingPool();
        var expected = CatalogueJson.Summarize(TargetServer.CreateJson(50));
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                response.Body.Length.Should().Be(response.BodyLength);
                return response.RequestUri.AbsolutePath switch
                {
                    "/json/50" => CatalogueJson.Summarize(response.Body.Span).Products,
                    "/" => response.Body.Span.SequenceEqual("ok"u8) ? 1 : -1,
                    _ => response.BodyLength,
                };
            })
            .WithBodyPool(pool);
        var paths = new[] { "json/50", string.Empty, "bytes/300000", "status/503", "status/404" };
        var requests = Enumerable.Range(0, 100).Select(i => new ScheduledRequest(new Uri(host, $"{paths[i % paths.Length]}?i={i}")));

        var results = await pipeline.ProcessAllAsync(requests).ToListAsync();

        results.Should().HaveCount(100).And.OnlyContain(r => r.Succeeded);
        results.Where(r => r.Index % 5 == 0).Should().OnlyContain(r => r.Value == expected.Products);
        results.Where(r => r.Index % 5 == 1).Should().OnlyContain(r => r.Value == 1, "a chunked body is read whole");
        results.Where(r => r.Index % 5 == 2).Should().OnlyContain(r => r.Value == 300_000);
        results.Where(r => r.Index % 5 == 3).Should().OnlyContain(r => r.Response!.Attempts == 3, "503 was retried twice");
        pool.Rented.Should().BeGreaterThanOrEqualTo(100 + 40, "every body, retried ones too, was read into a rented buffer");
        pool.Outstanding.Should().Be(0, "every buffer went back to the pool");
        var first = results[0].Response!;
        first.BodyLength.Should().BeGreaterThan(0);
        FluentActions.Invoking(() => first.Body).Should().Throw<ObjectDisposedException>("the buffer belongs to the pool again");
    }

    [Fact]
    public async Task ProcessAllAsync_SourceThrows_YieldsWhatWasFetched_ThenRethrowsAfterEverythingEnded()
    {
        var host = Server.Hosts[28];
        var sut = CreateSut(_ => { });
        async IAsyncEnumerable<ScheduledRequest> Source()
        {
            for (var i = 0; i < 20; i++)
            {
                yield return new ScheduledRequest(new Uri(host, $"?i={i}"));
            }

            await Task.Yield();
            throw new InvalidDataException("the source broke");
        }

        var seen = new List<ProcessedResult<int>>();
        var run = async () =>
        {
            await foreach (var item in sut.WithPostProcessor((r, ct) => r.BodyLength).ProcessAllAsync(Source()))
            {
                seen.Add(item);
            }
        };

        await run.Should().ThrowAsync<InvalidDataException>();
        sut.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task ProcessAllAsync_StalledRun_HoldsUpNoOtherRequest_NotEvenToItsOwnHosts()
    {
        var hosts = Server.Hosts.Skip(20).Take(2).ToList();
        var sut = CreateSut(o =>
        {
            o.MaxConcurrency = 8;
            o.DefaultHost.MaxConcurrency = 2;
        });
        using var gate = new SemaphoreSlim(0);
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                gate.Wait(ct);
                return response.BodyLength;
            })
            .WithOptions(o =>
            {
                o.MaxDegreeOfParallelism = 1;
                o.Capacity = 2;
            });
        var run = pipeline.ProcessAllAsync(Enumerable.Range(0, 400).Select(i => new ScheduledRequest(new Uri(hosts[i % 2], $"?stalled={i}")))).ToListAsync().AsTask();
        await Eventually.TrueAsync(() => sut.GetSnapshot().Queued == 398 && sut.GetSnapshot().InFlight == 0, "the run is full and its 398 other requests wait");

        // Requests of other callers to the same hosts, queued behind the 398, go at once.
        var others = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => sut.SendAsync(new ScheduledRequest(new Uri(hosts[i % 2], $"?other={i}"))))).WaitAsync(TimeSpan.FromSeconds(20));
        var batch = await sut.SendAllAsync(Enumerable.Range(0, 40).Select(i => new ScheduledRequest(new Uri(hosts[i % 2], $"?batch={i}")))).ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        others.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK);
        batch.Should().OnlyContain(o => o.HasResponse);
        sut.GetSnapshot().Queued.Should().Be(398, "the run's requests still wait for it to have room");

        gate.Release(1_000);
        var results = await run.WaitAsync(TimeSpan.FromSeconds(60));
        results.Should().HaveCount(400).And.OnlyContain(r => r.Succeeded);
        results.Select(r => r.Index).Should().OnlyHaveUniqueItems();
        sut.GetSnapshot().Pending.Should().Be(0);
    }

    [Fact]
    public async Task ProcessAllAsync_RequestsHeldBackByAFullRun_StillEndAtTheirDeadline()
    {
        var host = Server.Hosts[28];
        var sut = CreateSut(o => o.Deadline = TimeSpan.FromMilliseconds(300));
        using var gate = new SemaphoreSlim(0);
        var pipeline = sut
            .WithPostProcessor((response, ct) =>
            {
                gate.Wait(ct);
                return response.BodyLength;
            })
            .WithOptions(o =>
            {
                o.MaxDegreeOfParallelism = 1;
                o.Capacity = 2;
            });
        var results = new List<ProcessedResult<int>>();
        var run = Task.Run(async () =>
        {
            await foreach (var item in pipeline.ProcessAllAsync(Enumerable.Range(0, 12).Select(i => new ScheduledRequest(new Uri(host, $"?deadline={i}")))))
            {
                lock (results)
                {
                    results.Add(item);
                }
            }
        });

        await Eventually.TrueAsync(() => { lock (results) { return results.Count == 10; } }, "the ten requests the full run held back end at their deadline");
        gate.Release(100);
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        results.Should().HaveCount(12);
        results.Count(r => r.Succeeded).Should().Be(2);
        results.Where(r => !r.Succeeded).Should().OnlyContain(r => r.Status == ProcessedResultStatus.FetchFailed
            && ((RequestFailedException)r.Exception!).Reason == RequestFailureReason.DeadlineExceeded);
    }

    [Fact]
    public async Task ProcessAllAsync_EnumeratedTwice_RunsTwice()
    {
        var host = Server.Hosts[28];
        var sut = CreateSut(_ => { });
        var run = sut.WithPostProcessor((r, ct) => r.BodyLength).ProcessAllAsync(Enumerable.Range(0, 30).Select(i => new ScheduledRequest(new Uri(host, $"?twice={i}"))));

        var first = await run.ToListAsync();
        var second = await run.ToListAsync();

        first.Should().HaveCount(30).And.OnlyContain(r => r.Succeeded);
        second.Should().HaveCount(30).And.OnlyContain(r => r.Succeeded);
        second.Select(r => r.Index).Should().BeEquivalentTo(first.Select(r => r.Index));
    }

    [Fact]
    public async Task ProcessAllAsync_SchedulerDisposedMidRun_EndsAndReportsTheRestAsDisposed()
    {
        var hosts = Server.Hosts.Skip(7).Take(10).ToList();
        var sut = CreateSut(o => o.MaxConcurrency = 8);
        var pipeline = sut.WithPostProcessor((r, ct) => r.BodyLength);
        var items = new List<ProcessedResult<int>>();

        var run = async () =>
        {
            await foreach (var item in pipeline.ProcessAllAsync(Enumerable.Range(0, 500).Select(i => new ScheduledRequest(new Uri(hosts[i % hosts.Count], $"delay/50?d={i}")))))
            {
                items.Add(item);
                if (items.Count == 20)
                {
                    _provider!.Dispose();
                }
            }
        };

        await run.Should().NotThrowAsync().WaitAsync(TimeSpan.FromSeconds(20));
        items.Count.Should().BeGreaterThan(20).And.BeLessThanOrEqualTo(500);
        items.Skip(20).Where(i => !i.Succeeded).Should().NotBeEmpty()
            .And.OnlyContain(i => i.Status == ProcessedResultStatus.FetchFailed && ((RequestFailedException)i.Exception!).Reason == RequestFailureReason.SchedulerDisposed);
        items.Select(i => i.Index).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task AddPostProcessor_PerItemLifetimes_GiveEachItemItsOwnScope_SharedByItsChain_AndASingletonIsOne()
    {
        var host = Server.Hosts[29];
        ItemProbe.Reset();
        SingletonCounter.Reset();
        var services = new ServiceCollection();
        services.AddScoped<ItemProbe>();
        services.AddProxyScheduler(_ => { })
            .AddPostProcessor<ScopedLengthProcessor, ProbedLength>()
            .AddPostProcessor<ProbeChecker, ProbedLength, DoubledLength>(ServiceLifetime.Scoped)
            .AddPostProcessor<SingletonCounter, int>(ServiceLifetime.Singleton, o => o.MaxDegreeOfParallelism = 2);
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        var pipeline = _provider.GetRequiredService<PostProcessingPipeline<DoubledLength>>();

        var results = await pipeline.ProcessAllAsync(Enumerable.Range(0, 40).Select(i => new ScheduledRequest(new Uri(host, $"?i={i}")))).ToListAsync();

        results.Should().HaveCount(40).And.OnlyContain(r => r.Succeeded && r.Value!.Doubled == 4);
        results.Should().OnlyContain(r => r.Value!.FirstProbe == r.Value.SecondProbe, "both steps of an item see the item's scoped services");
        results.Select(r => r.Value!.FirstProbe).Distinct().Should().HaveCount(40, "each item has a scope of its own");
        ItemProbe.Created.Should().Be(40);
        ItemProbe.Disposed.Should().Be(40, "each item's scope is disposed when the item is done");
        _provider.GetRequiredService<PostProcessingPipeline<ProbedLength>>().Steps.Should().Be(1);
        pipeline.Steps.Should().Be(2);
        pipeline.MaxDegreeOfParallelism.Should().Be(Environment.ProcessorCount);
        pipeline.Capacity.Should().Be(64 + (2 * Environment.ProcessorCount), "by default a run can fill the global limit (64) and keep two items per worker waiting");

        var counted = _provider.GetRequiredService<PostProcessingPipeline<int>>();
        var counts = await counted.ProcessAllAsync(Enumerable.Range(0, 30).Select(i => new ScheduledRequest(new Uri(host, $"?s={i}")))).ToListAsync();
        counts.Should().HaveCount(30).And.OnlyContain(r => r.Succeeded);
        counts.Select(r => r.Value).Should().BeEquivalentTo(Enumerable.Range(1, 30), "one shared instance processed every item");
        SingletonCounter.Instances.Should().Be(1);
        counted.MaxDegreeOfParallelism.Should().Be(2, "the registration's options apply");
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public sealed record ProbedLength(int Length, int Probe);

    public sealed record DoubledLength(int Doubled, int FirstProbe, int SecondProbe);

    public sealed class ItemProbe : IDisposable
    {
        private static int _created;
        private static int _disposed;

        public ItemProbe() => Id = Interlocked.Increment(ref _created);

        public static int Created => Volatile.Read(ref _created);

        public static int Disposed => Volatile.Read(ref _disposed);

        public int Id { get; }

        public static void Reset()
        {
            Volatile.Write(ref _created, 0);
            Volatile.Write(ref _disposed, 0);
        }

        public void Dispose() => Interlocked.Increment(ref _disposed);
    }

    public sealed class ScopedLengthProcessor(ItemProbe probe) : ParallelPostProcessor<ProbedLength>
    {
        protected override ProbedLength Process(ScheduledResponse response, CancellationToken cancellationToken) => new(response.BodyLength, probe.Id);
    }

    public sealed class ProbeChecker(ItemProbe probe) : ParallelPostProcessor<ProbedLength, DoubledLength>
    {
        protected override DoubledLength Process(ProbedLength input, ScheduledResponse response, CancellationToken cancellationToken) =>
            new(input.Length * 2, input.Probe, probe.Id);
    }

    public sealed class SingletonCounter : ParallelPostProcessor<int>
    {
        private static int _instances;
        private int _calls;

        public SingletonCounter() => Interlocked.Increment(ref _instances);

        public static int Instances => Volatile.Read(ref _instances);

        public static void Reset() => Volatile.Write(ref _instances, 0);

        protected override int Process(ScheduledResponse response, CancellationToken cancellationToken) => Interlocked.Increment(ref _calls);
    }

    /// <summary>An array pool that counts what it rents out and gets back.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        private readonly ArrayPool<byte> _inner = ArrayPool<byte>.Create();
        private int _rented;
        private int _outstanding;

        public int Rented => Volatile.Read(ref _rented);

        public int Outstanding => Volatile.Read(ref _outstanding);

        public override byte[] Rent(int minimumLength)
        {
            Interlocked.Increment(ref _rented);
            Interlocked.Increment(ref _outstanding);
            return _inner.Rent(minimumLength);
        }

        public override void Return(byte[] array, bool clearArray = false)
        {
            Interlocked.Decrement(ref _outstanding);
            _inner.Return(array, clearArray);
        }
    }
}
