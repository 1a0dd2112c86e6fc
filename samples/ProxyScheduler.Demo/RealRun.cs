using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Processing;
using ProxyScheduler.Proxies;

namespace ProxyScheduler.Demo;

/// <summary>What the real-use mode keeps of a page.</summary>
internal sealed record PageInfo(string? Title, int Links, string? ContentType);

/// <summary>Reads a page's title and counts its links, on the post-processing workers.</summary>
internal sealed partial class PageInfoParser : ParallelPostProcessor<PageInfo>
{
    [GeneratedRegex(@"<title[^>]*>(?<t>.*?)</title", RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1_000)]
    private static partial Regex Title();

    [GeneratedRegex(@"<a\s", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1_000)]
    private static partial Regex Link();

    protected override PageInfo Process(ScheduledResponse response, CancellationToken cancellationToken)
    {
        var type = response.ContentHeaders.ContentType?.MediaType;
        if (type is not ("text/html" or "application/xhtml+xml"))
        {
            return new PageInfo(null, 0, type);
        }

        var html = response.ReadBodyAsString();
        var title = Title().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups["t"].Value).Trim() : null;
        return new PageInfo(title, Link().Count(html), type);
    }
}

/// <summary>Real use: crawls the URLs of a file (or stdin) through optional proxies, results as JSON Lines.</summary>
internal static class RealRun
{
    public static async Task<int> RunAsync(DemoOptions options)
    {
        var urls = await ReadUrlsAsync(options.UrlsFile!);
        var proxies = options.ProxiesFile is null ? [] : await ReadProxiesAsync(options.ProxiesFile);
        await using var output = options.Output == "-" ? Console.OpenStandardOutput() : OpenOutput(options.Output);

        var services = new ServiceCollection();
        var builder = services.AddProxyScheduler(o =>
            {
                o.MaxConcurrency = options.Concurrency;
                o.QueueLimit = Math.Max(options.Concurrency, 10_000);
                o.DefaultHost.MaxConcurrency = options.PerHost;
                o.DefaultHost.MinDelay = TimeSpan.FromMilliseconds(options.DelayMs);
                o.DefaultHost.RateLimit = options.Rate;
                o.DefaultHost.Adaptive = options.Adaptive;
                o.Retry.MaxRetries = options.Retries;
                o.AttemptTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
                o.Sessions.MaxUses = options.SessionMaxUses;
                o.Robots.Enabled = options.Robots;
                o.Robots.UserAgent = "ProxySchedulerDemo";
            })
            .AddPostProcessor<PageInfoParser, PageInfo>(ServiceLifetime.Singleton);
        if (proxies.Count > 0)
        {
            builder.AddProxies(proxies);
        }

        if (options.Redis is { } redis)
        {
            builder.UseRedis(redis, o => o.KeyPrefix = "proxyscheduler-demo:");
        }

        await using var provider = services.BuildServiceProvider();
        var pipeline = provider.GetRequiredService<PostProcessingPipeline<PageInfo>>();
        var requests = urls.Select(u => new ScheduledRequest(u) { SessionKey = options.Session });

        var scheduler = provider.GetRequiredService<IRequestScheduler>();
        var stopwatch = Stopwatch.StartNew();
        using var deadline = options.DeadlineSeconds is { } seconds ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        var done = 0;
        var tally = new Tally();
        using var progress = new Timer(_ => Console.Error.WriteLine(ProgressLine(scheduler, stopwatch.Elapsed, Volatile.Read(ref done), urls.Count)), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
        var cutShort = false;
        await using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false }))
        {
            try
            {
                await foreach (var item in pipeline.ProcessAllAsync(requests, deadline.Token))
                {
                    var outcome = Outcome(item);
                    tally.Add(item, outcome);
                    Write(writer, urls[(int)item.Index], item, outcome);
                    await writer.FlushAsync();
                    await output.WriteAsync("\n"u8.ToArray());
                    Interlocked.Increment(ref done);
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                cutShort = true;
            }
        }

        var summary = $"{done} of {urls.Count} URLs in {stopwatch.Elapsed.TotalSeconds:0.0} s: {tally.Succeeded} succeeded (2xx, parsed), {tally.HttpErrors} answered with another status, {tally.Failed} failed.";
        Console.Error.WriteLine(summary);
        foreach (var (reason, n) in tally.Reasons.OrderByDescending(r => r.Value))
        {
            Console.Error.WriteLine($"  {n,6}  {reason}");
        }

        var (code, verdict) = cutShort
            ? (DemoOptions.ExitDeadline, $"The deadline of {options.DeadlineSeconds} s was reached: {urls.Count - done} URL(s) were cut short.")
            : tally.Coordination > 0
                ? (DemoOptions.ExitCoordinationUnavailable, $"{tally.Coordination} request(s) failed because Redis could not be reached (CoordinationUnavailable).")
                : tally.Failed > 0
                    ? (DemoOptions.ExitFailed, $"{tally.Failed} request(s) failed; the reasons are above and in the JSON Lines ('outcome', 'message').")
                    : tally.HttpErrors > 0
                        ? (DemoOptions.ExitHttpErrors, $"Every request was answered, {tally.HttpErrors} with a status other than 2xx.")
                        : (DemoOptions.ExitOk, "Every request succeeded.");
        Console.Error.WriteLine($"{verdict} Exit code {code}.");
        return code;
    }

    /// <summary>One progress line; while requests wait for a proxy, it says what they wait for.</summary>
    private static string ProgressLine(IRequestScheduler scheduler, TimeSpan elapsed, int done, int total)
    {
        var snapshot = scheduler.GetSnapshot();
        var line = $"  {elapsed.TotalSeconds,6:0.0} s  {done,7}/{total} done  in flight {snapshot.InFlight}  queued {snapshot.Queued}";
        if (snapshot.HostsDown > 0)
        {
            line += $"  hosts down {snapshot.HostsDown}";
        }

        return snapshot.WaitingForProxy > 0 ? $"{line}  waiting for a proxy: {snapshot.WaitingForProxy} request(s); {snapshot.WaitingForProxyReason}" : line;
    }

    /// <summary>What became of one URL, in words kept apart: success, an answer with another status, or a failure.</summary>
    private static string Outcome(ProcessedResult<PageInfo> item) => item.Status switch
    {
        ProcessedResultStatus.Succeeded when item.Response!.IsSuccessStatusCode => "success",
        ProcessedResultStatus.Succeeded => $"completed with status {(int)item.Response!.StatusCode}",
        ProcessedResultStatus.ProcessingFailed => "processing failed",
        _ => item.Exception is RequestFailedException failed ? $"failed: {failed.Reason}" : $"failed: {item.Exception?.GetType().Name}",
    };

    private sealed class Tally
    {
        public int Succeeded { get; private set; }

        public int HttpErrors { get; private set; }

        public int Failed { get; private set; }

        public int Coordination { get; private set; }

        public Dictionary<string, int> Reasons { get; } = new(StringComparer.Ordinal);

        public void Add(ProcessedResult<PageInfo> item, string outcome)
        {
            Reasons[outcome] = Reasons.GetValueOrDefault(outcome) + 1;
            if (outcome == "success")
            {
                Succeeded++;
            }
            else if (item.Status == ProcessedResultStatus.Succeeded)
            {
                HttpErrors++;
            }
            else
            {
                Failed++;
                Coordination += item.Exception is RequestFailedException { Reason: RequestFailureReason.CoordinationUnavailable } ? 1 : 0;
            }
        }
    }

    private static void Write(Utf8JsonWriter writer, Uri url, ProcessedResult<PageInfo> item, string outcome)
    {
        writer.Reset();
        writer.WriteStartObject();
        writer.WriteString("url", url.ToString());
        writer.WriteString("outcome", outcome);
        writer.WriteString("status", item.Status.ToString());
        if (item.Response is { } response)
        {
            writer.WriteNumber("statusCode", (int)response.StatusCode);
            writer.WriteString("finalUrl", response.RequestUri.ToString());
            writer.WriteNumber("attempts", response.Attempts);
            writer.WriteNumber("bytes", response.BodyLength);
            writer.WriteNumber("elapsedMs", Math.Round(response.Timings.Total.TotalMilliseconds, 1));
            if (response.Proxy is { } proxy)
            {
                writer.WriteString("proxy", proxy.Id);
            }
        }

        if (item.Value is { } page)
        {
            writer.WriteString("contentType", page.ContentType);
            writer.WriteString("title", page.Title);
            writer.WriteNumber("links", page.Links);
        }

        if (item.Exception is { } ex)
        {
            writer.WriteString("error", ex is RequestFailedException failed ? failed.Reason.ToString() : ex.GetType().Name);
            writer.WriteString("message", ex.Message);
        }

        writer.WriteEndObject();
    }

    private static async Task<List<Uri>> ReadUrlsAsync(string path)
    {
        var lines = path == "-" ? await ReadAllLinesAsync(Console.In) : await ReadFileAsync(path, "--urls");
        var urls = new List<Uri>();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (!Uri.TryCreate(line, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new DemoUsageException($"{(path == "-" ? "stdin" : path)}, line {i + 1}: not an absolute http or https URL.");
            }

            urls.Add(uri);
        }

        return urls.Count > 0 ? urls : throw new DemoUsageException($"{(path == "-" ? "stdin" : path)} holds no URL.");
    }

    private static async Task<List<ProxyEndpoint>> ReadProxiesAsync(string path)
    {
        var lines = await ReadFileAsync(path, "--proxies");
        var proxies = new List<ProxyEndpoint>();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            // The parser's message names the problem with the credentials masked; the line itself is never echoed.
            try
            {
                proxies.Add(ProxyEndpoint.Parse(line));
            }
            catch (FormatException ex)
            {
                throw new DemoUsageException($"{path}, line {i + 1}: {ex.Message}");
            }
        }

        return proxies.Count > 0 ? proxies : throw new DemoUsageException($"{path} holds no proxy.");
    }

    private static async Task<List<string>> ReadFileAsync(string path, string flag)
    {
        try
        {
            return [.. await File.ReadAllLinesAsync(path)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DemoUsageException($"{flag} {path}: {ex.Message}");
        }
    }

    private static async Task<List<string>> ReadAllLinesAsync(TextReader reader)
    {
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    private static FileStream OpenOutput(string path)
    {
        try
        {
            return File.Create(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DemoUsageException($"--output {path}: {ex.Message}");
        }
    }
}
