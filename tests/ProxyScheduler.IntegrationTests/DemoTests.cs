using System.Text.Json;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The demo (the README's "run it" command) run as a process, as a newcomer runs it: the embedded world, real use, bad flags.</summary>
public sealed class DemoTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>
{
    private static readonly string BinDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.FullName; // bin/<Configuration>
    private static readonly string DemoDll = Path.GetFullPath(Path.Combine(BinDirectory, "..", "..", "..", "..", "samples", "ProxyScheduler.Demo", "bin",
        new DirectoryInfo(BinDirectory).Name, "net10.0", "ProxyScheduler.Demo.dll"));

    [Fact]
    public async Task EmbeddedWorld_CrawlsThroughRealProxies_AndReportsEveryLimitHeld()
    {
        var (exit, output, error) = await RunAsync(["--requests", "800", "--no-live"], timeout: TimeSpan.FromMinutes(2));

        exit.Should().Be(0, output + error);
        output.Should().StartWith("Embedded world on 127.0.0.1: 20 sites").And.Contain("2 dead (refuses)").And.Contain("on purpose")
            .And.Contain("800 of 800 requests").And.Contain("Hosts, as counted by the target server").And.Contain("Proxies, final state")
            .And.Contain("Every request was answered, every limit held, no credential reached a host.").And.Contain("Exit code 0.")
            .And.Contain("requests that reached a host with a Proxy-Authorization header: 0");
        output.Should().NotContain("EXCEEDED");
        output.Should().MatchRegex(@"secure-1\s+https \(CONNECT tunnels\)\s+\d+", "HTTPS sites are reached through CONNECT tunnels of the proxies");
        output.Should().MatchRegex(@"dead-1\s+dead \(refuses\)\s+(Quarantined|Retired)\s+0\.00\s+(?<a>\d+)\s+0\s+\k<a>\s+0\s+0\s+\k<a> connection refused", "a dead proxy ends out of the rotation, every attempt blamed on it as connection refused");
        output.Should().MatchRegex(@"healthy-1\s+healthy\s+Healthy\s+[\d.]+\s+[\d,]+\s+[\d,]+\s+0\s", "a healthy proxy has no failure blamed on it");
        output.Should().NotContain("demo-Pa55", "the credentials of the proxy that needs them are never printed");
    }

    [SkippableFact]
    public async Task FleetMode_WorkersShareTheWorldsLimitsThroughRedis()
    {
        RealServer.Require("redis-server");
        await using var redis = await ExternalServer.StartRedisAsync();

        var (exit, output, error) = await RunAsync(["--requests", "600", "--no-live", "--redis", $"127.0.0.1:{redis.Port}", "--workers", "2"], timeout: TimeSpan.FromMinutes(2));

        exit.Should().Be(0, output + error);
        output.Should().Contain("Fleet mode: 2 workers").And.Contain("600 of 600 requests").And.Contain("Fleet: 2 workers on Redis")
            .And.Contain("Every request was answered, every limit held, no credential reached a host.");
        output.Should().NotContain("EXCEEDED", "the target server counted no host above its limit with two workers sending");
    }

    [Fact]
    public async Task RealUse_CrawlsAUrlFileThroughAProxyFile_ToJsonLines()
    {
        var host = fixture.Server.Hosts[14];
        await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior { UserName = "real-user", Password = "real-secret" });
        var directory = Directory.CreateTempSubdirectory("ps-demo-").FullName;
        try
        {
            var urls = Path.Combine(directory, "urls.txt");
            var proxies = Path.Combine(directory, "proxies.txt");
            var results = Path.Combine(directory, "results.jsonl");
            await File.WriteAllLinesAsync(urls, ["# pages", .. Enumerable.Range(1, 12).Select(i => new Uri(host, $"page/{i}").ToString()), "", new Uri(host, "status/404").ToString()]);
            await File.WriteAllLinesAsync(proxies, [$"http://real-user:real-secret@127.0.0.1:{proxy.Port}"]);

            var (exit, _, error) = await RunAsync(["--urls", urls, "--proxies", proxies, "--output", results, "--per-host", "3", "--session", "s-1", "--retries", "0"]);

            exit.Should().Be(5, "every URL was answered, one with 404: " + error);
            var lines = await File.ReadAllLinesAsync(results);
            lines.Should().HaveCount(13);
            var records = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
            records.Where(r => r.GetProperty("statusCode").GetInt32() == 200).Select(r => r.GetProperty("title").GetString())
                .Should().BeEquivalentTo(Enumerable.Range(1, 12).Select(i => $"Page {i} & co"));
            records.Should().ContainSingle(r => r.GetProperty("statusCode").GetInt32() == 404)
                .Which.GetProperty("outcome").GetString().Should().Be("completed with status 404", "a 404 is kept apart from success");
            records.Where(r => r.GetProperty("statusCode").GetInt32() == 200).Should().OnlyContain(r => r.GetProperty("outcome").GetString() == "success");
            records.Select(r => r.GetProperty("proxy").GetString()).Distinct().Should().ContainSingle("one session, one proxy identity");
            proxy.Forwarded.Should().Be(13, "every request went through the proxy file's proxy");
            string.Join('\n', lines).Should().NotContain("real-secret");
            error.Should().Contain("13 of 13 URLs in").And.Contain("12 succeeded").And.Contain("1 answered with another status").And.Contain("Exit code 5.");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // "The demo says all is well when it is not": only dead proxies, --urls mode.
    [Fact]
    public async Task TheDemoSaysAllIsWellWhenItIsNot_OnlyDeadProxies_EndsByItselfWithANonZeroExit_AndSaysWhy()
    {
        var host = fixture.Server.Hosts[15];
        var directory = Directory.CreateTempSubdirectory("ps-demo-").FullName;
        try
        {
            var urls = Path.Combine(directory, "urls.txt");
            var proxies = Path.Combine(directory, "proxies.txt");
            var results = Path.Combine(directory, "results.jsonl");
            await File.WriteAllLinesAsync(urls, Enumerable.Range(1, 6).Select(i => new Uri(host, $"page/{i}").ToString()));
            await File.WriteAllLinesAsync(proxies, [$"http://127.0.0.1:{FreePort()}", $"http://127.0.0.1:{FreePort()}"]);

            var (exit, _, error) = await RunAsync(["--urls", urls, "--proxies", proxies, "--output", results, "--deadline", "100"], timeout: TimeSpan.FromMinutes(3));

            exit.Should().Be(1, error);
            error.Should().Contain("6 of 6 URLs").And.Contain("0 succeeded").And.Contain("6 failed").And.Contain("failed: Prox").And.Contain("Exit code 1.");
            error.Should().Contain("waiting for a proxy", "the progress line says what the requests wait for").And.Contain("connection refused");
            var records = (await File.ReadAllLinesAsync(results)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            records.Should().HaveCount(6).And.OnlyContain(r => r.GetProperty("outcome").GetString()!.StartsWith("failed: Prox", StringComparison.Ordinal),
                "each request failed through the dead proxies (ProxyFailure) or found none left to wait for (ProxiesUnavailable)");
            records.Where(r => r.GetProperty("outcome").GetString() == "failed: ProxiesUnavailable")
                .All(r => r.GetProperty("message").GetString()!.Contains("quarantined", StringComparison.Ordinal) && r.GetProperty("message").GetString()!.Contains("connection refused", StringComparison.Ordinal))
                .Should().BeTrue("a ProxiesUnavailable failure says why");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // "The demo says all is well when it is not": Redis unreachable.
    [Fact]
    public async Task TheDemoSaysAllIsWellWhenItIsNot_RedisUnreachable_ExitsWithTheCoordinationCode()
    {
        var (exit, output, error) = await RunAsync(["--requests", "100", "--no-live", "--redis", $"127.0.0.1:{FreePort()},connectTimeout=200", "--workers", "1", "--deadline", "120"], timeout: TimeSpan.FromMinutes(3));

        exit.Should().Be(3, output + error);
        output.Should().Contain("failed: CoordinationUnavailable").And.Contain("Redis could not be reached").And.NotContain("Every request was answered");
    }

    [Fact]
    public async Task Deadline_CutsTheRunShort_WithItsOwnExitCode()
    {
        var (exit, output, error) = await RunAsync(["--requests", "20000", "--no-live", "--deadline", "3"], timeout: TimeSpan.FromMinutes(2));

        exit.Should().Be(4, output + error);
        output.Should().Contain("cut short at the 3 s deadline").And.Contain("Exit code 4.");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("--deadline 0", "--deadline takes a whole number from 1 to 86400; got '0'")]
    [InlineData("--bogus", "Unknown flag --bogus")]
    [InlineData("--concurrency 0", "--concurrency takes a whole number from 1 to 100000; got '0'")]
    [InlineData("--urls", "--urls needs a value")]
    [InlineData("--urls /nonexistent/urls.txt", "--urls /nonexistent/urls.txt")]
    [InlineData("--proxies p.txt", "--proxies, --output and --session go with --urls")]
    [InlineData("--workers 2", "--workers goes with --redis")]
    public async Task BadFlags_ExitWith2_AndSayWhatIsWrong(string flags, string message)
    {
        var (exit, _, error) = await RunAsync(flags.Split(' '));

        exit.Should().Be(2);
        error.Should().Contain(message);
    }

    [Fact]
    public async Task BadFiles_ExitWith2_NamingTheLine_WithoutEchoingCredentials()
    {
        var directory = Directory.CreateTempSubdirectory("ps-demo-").FullName;
        try
        {
            var urls = Path.Combine(directory, "urls.txt");
            var proxies = Path.Combine(directory, "proxies.txt");
            await File.WriteAllLinesAsync(urls, ["http://127.0.0.1/ok", "ftp://127.0.0.1/no"]);
            var badUrls = await RunAsync(["--urls", urls]);
            badUrls.Exit.Should().Be(2);
            badUrls.Error.Should().Contain("line 2: not an absolute http or https URL");

            await File.WriteAllLinesAsync(urls, ["http://127.0.0.1/ok"]);
            await File.WriteAllLinesAsync(proxies, ["http://127.0.0.1:3128", "http://user:TopSecret9@127.0.0.1:99999"]);
            var badProxies = await RunAsync(["--urls", urls, "--proxies", proxies]);
            badProxies.Exit.Should().Be(2);
            badProxies.Error.Should().Contain("line 2").And.NotContain("TopSecret9");

            (await RunAsync(["--help"])).Output.Should().Contain("--urls FILE").And.Contain("--proxies FILE").And.Contain("--session KEY").And.Contain("Exit codes").And.Contain("--deadline SECONDS")
                .And.Contain("3  coordination unavailable").And.Contain("4  the deadline was reached");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Task<(int Exit, string Output, string Error)> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        File.Exists(DemoDll).Should().BeTrue($"the demo is built with the solution ({DemoDll})");
        return ChildProcess.RunAsync("dotnet", [DemoDll, .. args], timeout ?? TimeSpan.FromSeconds(60));
    }
}
