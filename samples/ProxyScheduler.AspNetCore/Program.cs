// A crawl service on ProxyScheduler: run it on loopback with
//   dotnet run --project samples/ProxyScheduler.AspNetCore -- --urls http://127.0.0.1:5080
// then POST /jobs {"urls": [...]} and read GET /jobs/{id}; GET /proxies is the dashboard snapshot, /health the proxy
// pool's health, /metrics the OpenTelemetry (Prometheus) metrics.
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ProxyScheduler;
using ProxyScheduler.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

// The scheduler, from the "ProxyScheduler" section (validated at start-up: a bad value stops the app with its key).
builder.Services.AddProxyScheduler(builder.Configuration.GetSection("ProxyScheduler"))
    .AddPostProcessor<PageSummarizer, PageSummary>(ServiceLifetime.Singleton)
    .AddHealthCheck(configure: h => h.DegradedBelow = builder.Configuration.GetValue("Health:DegradedBelow", 0.5));

builder.Services.AddOptions<JobOptions>().Bind(builder.Configuration.GetSection("Jobs")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<JobStore>();
builder.Services.AddProblemDetails(); // every error answer is a ProblemDetails; no stack trace ever leaves the service
builder.Services.AddHostedService<JobRunner>();
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
    o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
});

// Metrics of the ProxyScheduler meter for Prometheus at /metrics; spans (and metrics) on the console when asked.
var console = builder.Configuration.GetValue("Telemetry:Console", false);
var telemetry = builder.Services.AddOpenTelemetry()
    .ConfigureResource(r => r.AddService("ProxyScheduler.AspNetCore"))
    .WithMetrics(metrics =>
    {
        metrics.AddMeter("ProxyScheduler").AddPrometheusExporter();
        if (console)
        {
            metrics.AddConsoleExporter();
        }
    });
if (console)
{
    telemetry.WithTracing(tracing => tracing.AddSource("ProxyScheduler").AddConsoleExporter());
}

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapPost("/jobs", async Task<Results<Accepted<object>, ValidationProblem, ProblemHttpResult>> (HttpContext context, JobStore store, IOptions<JobOptions> options, TimeProvider time) =>
{
    // The body is read here rather than bound, so that malformed JSON gets a 400 that says what is wrong (and nothing else).
    JobRequest? body;
    try
    {
        body = await context.Request.ReadFromJsonAsync<JobRequest>(context.RequestAborted);
    }
    catch (JsonException ex)
    {
        var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : string.Empty;
        return TypedResults.Problem($"The body is not valid JSON for a job{where}. Send {{\"urls\": [\"https://...\"]}}.", statusCode: StatusCodes.Status400BadRequest, title: "Malformed JSON");
    }
    catch (InvalidOperationException)
    {
        return TypedResults.Problem("Send the job as JSON (Content-Type: application/json).", statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
    }

    var errors = new Dictionary<string, string[]>();
    var urls = new List<Uri>();
    if (body?.Urls is not { Count: > 0 } list)
    {
        errors["urls"] = ["Give at least one URL."];
    }
    else if (list.Count > options.Value.MaxUrlsPerJob)
    {
        errors["urls"] = [$"A job holds at most {options.Value.MaxUrlsPerJob} URLs (Jobs:MaxUrlsPerJob); this one has {list.Count}."];
    }
    else
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is { } text && Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                urls.Add(uri);
            }
            else
            {
                errors[$"urls[{i}]"] = ["Not an absolute http or https URL."];
            }
        }
    }

    if (body?.SessionKey is { } key && (key.Length == 0 || key.Length > 256))
    {
        errors["sessionKey"] = ["A session key has 1 to 256 characters."];
    }

    if (errors.Count > 0)
    {
        return TypedResults.ValidationProblem(errors);
    }

    var job = new Job(Guid.NewGuid(), urls, body!.SessionKey, body.Priority, time.GetUtcNow());
    if (!store.TryAdd(job))
    {
        job.Dispose();
        context.Response.Headers.RetryAfter = "30";
        return TypedResults.Problem($"The service holds {options.Value.MaxJobs} unfinished jobs (Jobs:MaxJobs); try again later.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Queue full");
    }

    return TypedResults.Accepted($"/jobs/{job.Id}", job.ToView(includeResults: false));
});

app.MapGet("/jobs", (JobStore store) => store.All.Select(j => j.ToView(includeResults: false)));

app.MapGet("/jobs/{id:guid}", Results<Ok<object>, NotFound> (Guid id, JobStore store) =>
    store.Find(id) is { } job ? TypedResults.Ok(job.ToView(includeResults: true)) : TypedResults.NotFound());

app.MapDelete("/jobs/{id:guid}", Results<Accepted<object>, NotFound> (Guid id, JobStore store) =>
{
    if (store.Find(id) is not { } job)
    {
        return TypedResults.NotFound();
    }

    job.Cancel();
    return TypedResults.Accepted($"/jobs/{id}", job.ToView(includeResults: false));
});

// The dashboard snapshot: hosts (queued, in flight, current limit, paused until), proxies (state, score, in flight,
// quarantine until; addresses with credentials masked) and the session count.
app.MapGet("/proxies", (IRequestScheduler scheduler) =>
{
    var s = scheduler.GetSnapshot();
    return new
    {
        s.Pending,
        s.Queued,
        s.InFlight,
        s.MaxConcurrency,
        s.Sessions,
        Hosts = s.Hosts.Select(h => new { h.Host, h.Queued, h.InFlight, Limit = h.ConcurrencyLimit, h.RateLimit, h.PausedUntil }),
        Proxies = s.Proxies.Select(p => new
        {
            p.Id,
            p.Address,
            p.State,
            Score = Math.Round(p.Score, 3),
            p.InFlight,
            p.MaxConcurrency,
            SuccessRate = Math.Round(p.SuccessRate, 3),
            LatencyMs = Math.Round(p.Latency.TotalMilliseconds, 1),
            QuarantinedUntil = p.ReanimationAt,
            p.Attempts,
        }),
    };
});

app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
app.MapPrometheusScrapingEndpoint();

app.Run();

static Task WriteHealthAsync(HttpContext context, HealthReport report)
{
    context.Response.ContentType = "application/json";
    return context.Response.WriteAsJsonAsync(new
    {
        Status = report.Status.ToString(),
        Checks = report.Entries.ToDictionary(e => e.Key, e => new { Status = e.Value.Status.ToString(), e.Value.Description, e.Value.Data }),
    });
}

/// <summary>The entry point; public so that tests can start the app with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
