using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;

namespace ProxyScheduler.Benchmarks;

/// <summary>
/// The post-processing benchmark: 5,000 loopback responses of a 100 KiB JSON catalogue page (from a Kestrel target in
/// a child process), each deserialized and summarized on the stage, at a degree of parallelism of 1 (the baseline)
/// and of the machine's cores, alternated in one run. Reports throughput, the ratio to the baseline, CPU time and the
/// peak working set of each run (sampled every 5 ms).
/// </summary>
public static class PostProcessingBenchmark
{
    private const int Hosts = 4;
    private const int Rounds = 5;

    /// <summary>Runs the benchmark twice, in child processes: with the workstation GC (a console app's default) and the server GC (ASP.NET Core's).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (Environment.GetEnvironmentVariable("PS_POSTPROCESS_CHILD") == "1")
        {
            return await RunHereAsync(args);
        }

        var exit = 0;
        foreach (var server in new[] { "0", "1" })
        {
            var self = Environment.ProcessPath!;
            var info = new ProcessStartInfo(self) { UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                info.ArgumentList.Add(typeof(PostProcessingBenchmark).Assembly.Location);
            }

            info.ArgumentList.Add("postprocess");
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            info.Environment["PS_POSTPROCESS_CHILD"] = "1";
            info.Environment["DOTNET_gcServer"] = server;
            using var child = Process.Start(info)!;
            await child.WaitForExitAsync();
            exit = Math.Max(exit, child.ExitCode);
            Console.WriteLine();
        }

        return exit;
    }

    private static async Task<int> RunHereAsync(string[] args)
    {
        var responses = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5_000;
        var kilobytes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        using var server = LoadBenchmark.StartServer(Hosts, out var hosts);
        try
        {
            var services = new ServiceCollection();
            services.AddProxyScheduler(o =>
            {
                o.MaxConcurrency = 32;
                o.DefaultHost.MaxConcurrency = 8;
                o.MaxResponseBodySize = 1024 * 1024;
            });
            await using var provider = services.BuildServiceProvider();
            var scheduler = provider.GetRequiredService<IRequestScheduler>();
            var urls = Enumerable.Range(0, responses).Select(i => new Uri(hosts[i % hosts.Count], $"json/{kilobytes}?i={i}")).ToArray();
            var cores = Environment.ProcessorCount;
            Console.WriteLine($"Post-processing benchmark: {responses:N0} loopback responses of a {kilobytes} KiB JSON page per run; scheduler concurrency 32 over {Hosts} hosts; DOP 1 and DOP {cores} alternated, median of {Rounds} rounds");
            Console.WriteLine($"Machine: {cores} cores, {LoadBenchmark.RuntimeVersion()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC");
            var failures = 0;
            foreach (var (name, heavy) in new[] { ("deserialize, structure and index the text of every product", true), ("deserialize and structure only (light)", false) })
            {
                var baseline = scheduler.WithPostProcessor(new CatalogueProcessor(heavy)).WithOptions(o => o.MaxDegreeOfParallelism = 1);
                var parallel = scheduler.WithPostProcessor(new CatalogueProcessor(heavy)).WithOptions(o => o.MaxDegreeOfParallelism = cores);
                Console.WriteLine();
                Console.WriteLine($"Processor: {name}");

                // Warm-up: JIT (all tiers), connections, buffer pools.
                for (var i = 0; i < 2; i++)
                {
                    await RunOnceAsync(baseline, urls.Take(1_000).ToArray(), server);
                    await RunOnceAsync(parallel, urls.Take(1_000).ToArray(), server);
                }

                var one = new List<Result>();
                var many = new List<Result>();
                for (var round = 0; round < Rounds; round++)
                {
                    one.Add(await RunOnceAsync(baseline, urls, server));
                    many.Add(await RunOnceAsync(parallel, urls, server));
                    Console.WriteLine($"  round {round + 1}: DOP 1 {one[^1].PerSecond,7:N0} responses/s   DOP {cores} {many[^1].PerSecond,7:N0} responses/s   ratio {many[^1].PerSecond / one[^1].PerSecond:0.00}x");
                }

                var b = Median(one);
                var p = Median(many);
                var ceiling = InMemoryScaling(ProxyScheduler.Testing.TargetServer.CreateJson(kilobytes), heavy, responses, cores);
                Console.WriteLine();
                Console.WriteLine("| degree of parallelism | responses/s | ratio to DOP 1 | client CPU ms/response | target server CPU ms/response | peak working set MiB | failures |");
                Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
                Console.WriteLine(b.ToRow("1 (baseline)", b.PerSecond));
                Console.WriteLine(p.ToRow($"{cores} (= cores)", b.PerSecond));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DOP {cores} / DOP 1 throughput: {p.PerSecond / b.PerSecond:0.00}x (rounds {one.Zip(many).Min(r => r.Second.PerSecond / r.First.PerSecond):0.00}x to {one.Zip(many).Max(r => r.Second.PerSecond / r.First.PerSecond):0.00}x); the processor alone, on bodies in memory with no fetching: {ceiling.One:N0} pages/s on 1 thread, {ceiling.Many:N0} on {cores}, {ceiling.Many / ceiling.One:0.00}x"));
                failures += b.Failures + p.Failures;
            }

            return failures == 0 ? 0 : 1;
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

    /// <summary>The processor's own scaling: the same pages, already in memory, on one thread and on every core.</summary>
    private static (double One, double Many) InMemoryScaling(byte[] page, bool heavy, int count, int cores)
    {
        double Rate(int threads)
        {
            var stopwatch = Stopwatch.StartNew();
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => CatalogueProcessor.Summarize(page, heavy));
            return count / stopwatch.Elapsed.TotalSeconds;
        }

        Rate(1);
        Rate(cores);
        return (Rate(1), Rate(cores));
    }

    private static Result Median(List<Result> results) => results.OrderBy(r => r.PerSecond).ElementAt(results.Count / 2);

    private static async Task<Result> RunOnceAsync(PostProcessingPipeline<CatalogueStats> pipeline, Uri[] urls, Process server)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var peak = Environment.WorkingSet;
        using var sampling = new CancellationTokenSource();
        var sampler = new Thread(() =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Environment.WorkingSet);
                Thread.Sleep(5);
            }
        })
        { IsBackground = true };
        sampler.Start();

        server.Refresh();
        var serverBefore = server.TotalProcessorTime;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        var failures = 0;
        var products = 0L;
        await foreach (var item in pipeline.ProcessAllAsync(urls.Select(u => new ScheduledRequest(u))))
        {
            if (item.Succeeded && item.Value!.Products > 0)
            {
                products += item.Value.Products;
            }
            else
            {
                failures++;
            }
        }

        stopwatch.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        server.Refresh();
        var serverCpu = server.TotalProcessorTime - serverBefore;
        await sampling.CancelAsync();
        sampler.Join();
        return new Result(urls.Length / stopwatch.Elapsed.TotalSeconds, cpu.TotalMilliseconds / urls.Length, serverCpu.TotalMilliseconds / urls.Length, peak, failures, products);
    }

    private sealed record Result(double PerSecond, double CpuMsPerResponse, double ServerCpuMsPerResponse, long PeakWorkingSet, int Failures, long Products)
    {
        public string ToRow(string name, double baseline) => string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {PerSecond:N0} | {PerSecond / baseline:0.00}x | {CpuMsPerResponse:0.000} | {ServerCpuMsPerResponse:0.000} | {PeakWorkingSet / (1024.0 * 1024):0} | {Failures} |");
    }

    /// <summary>What the processor extracts from one page.</summary>
    public sealed record CatalogueStats(int Products, int InStock, decimal AveragePrice, int DistinctTags, int DescriptionWords, IReadOnlyList<string> TopByPrice)
    {
        public int Terms { get; init; }
    }

    /// <summary>Deserializes the page into typed products and structures it: counts, averages, distinct tags, words, top five.</summary>
    private sealed class CatalogueProcessor(bool heavy) : ParallelPostProcessor<CatalogueStats>
    {
        protected override CatalogueStats Process(ScheduledResponse response, CancellationToken cancellationToken) => Summarize(response.Body.Span, heavy);

        public static CatalogueStats Summarize(ReadOnlySpan<byte> json, bool heavy)
        {
            var page = JsonSerializer.Deserialize(json, CatalogueJsonContext.Default.CataloguePage)!;
            var tags = new HashSet<string>(StringComparer.Ordinal);
            var words = 0;
            var inStock = 0;
            var total = 0m;
            foreach (var product in page.Products)
            {
                total += product.Price;
                inStock += product.InStock ? 1 : 0;
                tags.UnionWith(product.Tags);
                words += product.Description.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            }

            var top = page.Products.OrderByDescending(p => p.Price).Take(5).Select(p => p.Name).ToList();
            var terms = heavy ? IndexTerms(page) : 0;
            return new CatalogueStats(page.Products.Count, inStock, page.Products.Count == 0 ? 0 : total / page.Products.Count, tags.Count, words, top) { Terms = terms };
        }

        /// <summary>
        /// Builds the page's search terms as an indexer does: decomposed, accents stripped, lower-cased, counted. Written
        /// the way processors should be (docs/post-processing.md): a term is looked up by span, and a string is made
        /// only for a term not seen before on the page, so the garbage collector has little to do.
        /// </summary>
        private static int IndexTerms(CataloguePage page)
        {
            var terms = new Dictionary<string, int>(StringComparer.Ordinal);
            var lookup = terms.GetAlternateLookup<ReadOnlySpan<char>>();
            var term = new char[256];
            foreach (var product in page.Products)
            {
                Count(product.Name, lookup, term);
                Count(product.Description, lookup, term);
                foreach (var tag in product.Tags)
                {
                    Count(tag, lookup, term);
                }
            }

            return terms.Count;
        }

        private static void Count(string text, Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> terms, char[] term)
        {
            var decomposed = text.IsNormalized(System.Text.NormalizationForm.FormD) ? text : text.Normalize(System.Text.NormalizationForm.FormD);
            var length = 0;
            for (var i = 0; i <= decomposed.Length; i++)
            {
                var c = i < decomposed.Length ? decomposed[i] : ' ';
                if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
                {
                    continue;
                }

                if (char.IsLetterOrDigit(c) && length < term.Length)
                {
                    term[length++] = char.ToLowerInvariant(c);
                }
                else if (length > 0)
                {
                    var key = term.AsSpan(0, length);
                    terms[key] = terms.TryGetValue(key, out var n) ? n + 1 : 1;
                    length = 0;
                }
            }
        }
    }
}

/// <summary>A catalogue page as the target serves it.</summary>
public sealed class CataloguePage
{
    [JsonPropertyName("products")]
    public List<CatalogueProduct> Products { get; set; } = [];
}

/// <summary>One product of a catalogue page.</summary>
public sealed class CatalogueProduct
{
    [JsonPropertyName("id")]
    public int Id { get; set; }

    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("price")]
    public decimal Price { get; set; }

    [JsonPropertyName("inStock")]
    public bool InStock { get; set; }

    [JsonPropertyName("tags")]
    public List<string> Tags { get; set; } = [];

    [JsonPropertyName("description")]
    public string Description { get; set; } = string.Empty;
}

[JsonSerializable(typeof(CataloguePage))]
internal sealed partial class CatalogueJsonContext : JsonSerializerContext;
