using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// The ASP.NET Core sample end to end: started in-process with <see cref="WebApplicationFactory{TEntryPoint}"/> (and once
/// as a real process on a loopback port), jobs fetched from the loopback Kestrel target through a real tinyproxy.
/// </summary>
public sealed class WebSampleTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>
{
    private const string ProxyUser = "websample-user";
    private const string ProxyPassword = "Pa55-websample-secret";
    private const string SessionKey = "web-session-key-7781-private";

    private TargetServer Server => fixture.Server;

    [SkippableFact]
    public async Task Job_ThroughARealProxyWithCredentials_IsReadBack_AndNoSecretReachesLogsMetricsTracesOrTheApi()
    {
        RealServer.Require("tinyproxy");
        await using var proxy = await ExternalServer.StartTinyproxyAsync(ProxyUser, ProxyPassword);
        var host = Server.Hosts[11];
        var logs = new CapturingLoggerProvider();
        using var telemetry = new TelemetryCapture();
        await using var app = CreateApp(logs, new()
        {
            ["ProxyScheduler:Proxies:0"] = $"http://{ProxyUser}:{ProxyPassword}@127.0.0.1:{proxy.Port}",
            ["ProxyScheduler:PerHostMetrics:0"] = "127.0.0.1",
        });
        using var client = app.CreateClient();

        var urls = Enumerable.Range(1, 30).Select(i => new Uri(host, $"page/{i}").ToString()).ToList();
        var job = await SubmitAsync(client, new { urls, sessionKey = SessionKey });
        var done = await WaitForJobAsync(client, job);

        done.GetProperty("status").GetString().Should().Be("completed");
        done.GetProperty("succeeded").GetInt32().Should().Be(30);
        var results = done.GetProperty("results").EnumerateArray().ToList();
        results.Should().HaveCount(30);
        var proxyIds = results.Select(r => r.GetProperty("proxyId").GetString()).Distinct().ToList();
        proxyIds.Should().ContainSingle("every page went through the one proxy").Which.Should().StartWith("px-");
        for (var i = 0; i < 30; i++)
        {
            results[i].GetProperty("url").GetString().Should().Be(urls[i]);
            results[i].GetProperty("statusCode").GetInt32().Should().Be(200);
            results[i].GetProperty("page").GetProperty("title").GetString().Should().Be($"Page {i + 1} & co", "the post-processor parsed each page");
            results[i].GetProperty("page").GetProperty("links").GetInt32().Should().Be(i + 1);
        }

        Server.Log.Count(l => l.Port == host.Port && l.PathAndQuery.StartsWith("/page/", StringComparison.Ordinal)).Should().BeGreaterThanOrEqualTo(30, "the target really served the pages");

        var snapshot = await client.GetFromJsonAsync<JsonElement>("/proxies");
        var listed = snapshot.GetProperty("proxies").EnumerateArray().Should().ContainSingle().Subject;
        listed.GetProperty("state").GetString().Should().Be("healthy");
        listed.GetProperty("address").GetString().Should().Contain("***@127.0.0.1");
        listed.GetProperty("score").GetDouble().Should().BeGreaterThan(0);
        snapshot.GetProperty("sessions").GetInt32().Should().Be(1);
        snapshot.GetProperty("hosts").EnumerateArray().Should().Contain(h => h.GetProperty("host").GetString() == $"127.0.0.1:{host.Port}");

        var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
        health.StatusCode.Should().Be(HttpStatusCode.OK);
        var healthBody = await health.Content.ReadAsStringAsync();
        healthBody.Should().Contain("\"status\":\"Healthy\"").And.Contain("1 of 1 proxies healthy");

        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        metrics.Should().Contain("proxyscheduler_requests_completed").And.Contain("proxyscheduler_attempt_duration_seconds_bucket")
            .And.Contain($"proxy_id=\"{proxyIds[0]}\"").And.Contain($"server_port=\"{host.Port}\"", "127.0.0.1 is on the per-host allow-list");

        telemetry.Activities.Should().Contain(a => a.StartsWith("ProxyScheduler.Request", StringComparison.Ordinal));
        telemetry.Activities.Should().Contain(a => a.StartsWith("ProxyScheduler.Attempt", StringComparison.Ordinal) && a.Contains(proxyIds[0]!, StringComparison.Ordinal));
        logs.Lines.Should().Contain(l => l.Contains("JobRunner", StringComparison.Ordinal));

        var everything = string.Join('\n', logs.Lines.Concat(telemetry.Activities).Concat(telemetry.MetricTags)
            .Append(done.ToString()).Append(snapshot.ToString()).Append(healthBody).Append(metrics)
            .Append(await client.GetStringAsync(new Uri("/jobs", UriKind.Relative))));
        everything.Should().NotContain(ProxyPassword).And.NotContain(ProxyUser).And.NotContain(SessionKey);
    }

    [SkippableFact]
    public async Task Health_TurnsUnhealthy_WhenEveryProxyIsDead()
    {
        var deadPorts = Enumerable.Range(0, 3).Select(_ => ExternalServer.FreePort()).ToList();
        await using var app = CreateApp(null, new()
        {
            ["ProxyScheduler:Proxies:0"] = $"http://dead:{ProxyPassword}@127.0.0.1:{deadPorts[0]}",
            ["ProxyScheduler:Proxies:1"] = $"http://127.0.0.1:{deadPorts[1]}",
            ["ProxyScheduler:Proxies:2"] = $"socks5://127.0.0.1:{deadPorts[2]}",
            ["ProxyScheduler:ProxyPool:QuarantineAfter"] = "1",
        });
        using var client = app.CreateClient();

        var before = await client.GetAsync(new Uri("/health", UriKind.Relative));
        before.StatusCode.Should().Be(HttpStatusCode.OK);
        (await before.Content.ReadAsStringAsync()).Should().Contain("3 of 3 proxies healthy");

        var job = await SubmitAsync(client, new { urls = Enumerable.Range(0, 10).Select(i => new Uri(Server.Hosts[12], $"?dead={i}").ToString()) });

        string body = string.Empty;
        await Eventually.TrueAsync(() =>
        {
            using var response = client.GetAsync(new Uri("/health", UriKind.Relative)).GetAwaiter().GetResult();
            body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, "/health answers 503 once every proxy is quarantined", 30_000);
        body.Should().Contain("\"status\":\"Unhealthy\"").And.Contain("No proxy can serve").And.NotContain(ProxyPassword);

        (await client.DeleteAsync(new Uri($"/jobs/{job}", UriKind.Relative))).StatusCode.Should().Be(HttpStatusCode.Accepted);
        await WaitForJobAsync(client, job, "canceled");
    }

    [Fact]
    public async Task BadInput_IsRejected_WithTheOffendingFieldOrSetting()
    {
        await using (var app = CreateApp(null, []))
        {
            using var client = app.CreateClient();
            var response = await client.PostAsJsonAsync(new Uri("/jobs", UriKind.Relative), new { urls = new[] { "http://127.0.0.1/ok", "ftp://127.0.0.1/file", "not a url" } });
            response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
            var problem = await response.Content.ReadAsStringAsync();
            problem.Should().Contain("urls[1]").And.Contain("urls[2]").And.NotContain("urls[0]");
            (await client.PostAsJsonAsync(new Uri("/jobs", UriKind.Relative), new { urls = Array.Empty<string>() })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
            (await client.GetAsync(new Uri($"/jobs/{Guid.NewGuid()}", UriKind.Relative))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        }

        await using (var bad = CreateApp(null, new() { ["ProxyScheduler:MaxConcurrency"] = "0", ["ProxyScheduler:Proxies:0"] = $"http://u:{ProxyPassword}@nohost:99999" }))
        {
            var start = () => bad.CreateClient();
            var error = start.Should().Throw<OptionsValidationException>().Which.Message;
            error.Should().Contain("ProxyScheduler:MaxConcurrency").And.Contain("ProxyScheduler:Proxies:0").And.NotContain(ProxyPassword);
        }

        await using (var bad = CreateApp(null, new() { ["Jobs:MaxRunningJobs"] = "0" }))
        {
            var start = () => bad.CreateClient();
            start.Should().Throw<OptionsValidationException>().WithMessage("*MaxRunningJobs*");
        }
    }

    [Fact]
    public async Task MalformedJson_GetsAProblemDetails400_WithoutAStackTrace()
    {
        await using var app = CreateApp(null, []);
        using var client = app.CreateClient();

        foreach (var body in new[] { "{\"urls\": [\"http://127.0.0.1/a\"", "not json at all", "{\"urls\": 42}", "[1,2,3]" })
        {
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            var response = await client.PostAsync(new Uri("/jobs", UriKind.Relative), content);
            var text = await response.Content.ReadAsStringAsync();

            response.StatusCode.Should().Be(HttpStatusCode.BadRequest, body);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            text.Should().Contain("not valid JSON").And.NotContain("   at ").And.NotContain("Exception", "no stack trace and no exception type leaves the service");
        }

        using var form = new StringContent("urls=x", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        var wrongType = await client.PostAsync(new Uri("/jobs", UriKind.Relative), form);
        wrongType.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        (await wrongType.Content.ReadAsStringAsync()).Should().NotContain("   at ");
    }

    [Fact]
    public async Task FullQueue_Gets503_WithRetryAfter()
    {
        var slow = Server.Hosts[16];
        await using var app = CreateApp(null, new() { ["Jobs:MaxJobs"] = "1" });
        using var client = app.CreateClient();
        var first = await SubmitAsync(client, new { urls = new[] { new Uri(slow, "delay/5000").ToString() } });

        var response = await client.PostAsJsonAsync(new Uri("/jobs", UriKind.Relative), new { urls = new[] { new Uri(slow, "status/200").ToString() } });

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.Should().NotBeNull();
        response.Headers.RetryAfter!.Delta.Should().BeGreaterThan(TimeSpan.Zero);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain("Jobs:MaxJobs");
        (await client.DeleteAsync(new Uri($"/jobs/{first}", UriKind.Relative))).StatusCode.Should().Be(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task SubmittedUrls_AreShownRedacted_NoPasswordNoQuerySecrets()
    {
        var host = Server.Hosts[17];
        await using var app = CreateApp(null, []);
        using var client = app.CreateClient();
        var url = $"http://reader:UrlPa55word@127.0.0.1:{host.Port}/status/200?token=QuerySecret42&page=2";

        var job = await SubmitAsync(client, new { urls = new[] { url } });
        var done = await WaitForJobAsync(client, job);

        var shown = done.GetProperty("results")[0].GetProperty("url").GetString();
        shown.Should().Be($"http://127.0.0.1:{host.Port}/status/200?token=***&page=***");
        var everything = done.ToString() + await client.GetStringAsync(new Uri("/jobs", UriKind.Relative));
        everything.Should().NotContain("UrlPa55word").And.NotContain("QuerySecret42").And.NotContain("reader");
    }

    [Fact]
    public async Task RealProcess_StartedWithUrlsOnLoopback_ServesAJob()
    {
        var port = ExternalServer.FreePort();
        var sample = Path.Combine(AppContext.BaseDirectory, "ProxyScheduler.AspNetCore.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [sample, "--urls", $"http://127.0.0.1:{port}", "--contentRoot", AppContext.BaseDirectory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            await Eventually.TrueAsync(() => output.Any(l => l.Contains($"Now listening on: http://127.0.0.1:{port}", StringComparison.Ordinal)) || process.HasExited,
                "the app started", 60_000);
            process.HasExited.Should().BeFalse(string.Join('\n', output));

            var job = await SubmitAsync(client, new { urls = Enumerable.Range(1, 5).Select(i => new Uri(Server.Hosts[13], $"page/{i}").ToString()) });
            var done = await WaitForJobAsync(client, job);
            done.GetProperty("succeeded").GetInt32().Should().Be(5);
            (await client.GetStringAsync(new Uri("/health", UriKind.Relative))).Should().Contain("No proxy pool");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static WebApplicationFactory<Program> CreateApp(CapturingLoggerProvider? logs, Dictionary<string, string?> settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Logging:LogLevel:Default", "Information");
            web.UseSetting("Logging:LogLevel:ProxyScheduler", "Trace");
            web.UseSetting("Logging:LogLevel:System.Net.Http", "Trace");
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }

            if (logs is not null)
            {
                web.ConfigureLogging(l => l.AddProvider(logs));
            }
        });

    private static async Task<Guid> SubmitAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync(new Uri("/jobs", UriKind.Relative), body);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        response.Headers.Location!.ToString().Should().StartWith("/jobs/");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<JsonElement> WaitForJobAsync(HttpClient client, Guid id, string status = "completed")
    {
        JsonElement job = default;
        await Eventually.TrueAsync(() =>
        {
            job = client.GetFromJsonAsync<JsonElement>(new Uri($"/jobs/{id}", UriKind.Relative)).GetAwaiter().GetResult();
            return job.GetProperty("status").GetString() == status;
        }, $"the job is {status}", 60_000);
        return job;
    }

    /// <summary>Every span (name and tags) and every metric tag of the process while the test runs, whatever the source or meter.</summary>
    private sealed class TelemetryCapture : IDisposable
    {
        private readonly ActivityListener _activities;
        private readonly MeterListener _meters = new();
        private readonly ConcurrentQueue<string> _spans = new();
        private readonly ConcurrentQueue<string> _tags = new();

        public TelemetryCapture()
        {
            _activities = new ActivityListener
            {
                ShouldListenTo = _ => true,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = a => _spans.Enqueue($"{a.OperationName} {a.DisplayName} {string.Join(';', a.TagObjects.Select(t => $"{t.Key}={t.Value}"))} {string.Join(';', a.Events.Select(e => e.Name))} {a.StatusDescription}"),
            };
            ActivitySource.AddActivityListener(_activities);
            _meters.InstrumentPublished = (instrument, listener) => listener.EnableMeasurementEvents(instrument);
            _meters.SetMeasurementEventCallback<long>((i, _, tags, _) => Record(i, tags));
            _meters.SetMeasurementEventCallback<int>((i, _, tags, _) => Record(i, tags));
            _meters.SetMeasurementEventCallback<double>((i, _, tags, _) => Record(i, tags));
            _meters.Start();
        }

        public IReadOnlyCollection<string> Activities => _spans;

        public IReadOnlyCollection<string> MetricTags
        {
            get
            {
                _meters.RecordObservableInstruments();
                return _tags;
            }
        }

        public void Dispose()
        {
            _activities.Dispose();
            _meters.Dispose();
        }

        private void Record(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                _tags.Enqueue($"{instrument.Name} {tag.Key}={tag.Value}");
            }
        }
    }
}
