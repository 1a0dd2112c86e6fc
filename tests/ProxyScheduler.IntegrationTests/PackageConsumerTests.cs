using System.IO.Compression;
using System.Xml.Linq;
using ProxyScheduler.Testing;

namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// The package works for a consumer, not only inside the solution: <c>dotnet pack</c> the library, check what the package
/// holds, then build and run a fresh console project outside the repository that references it from a local folder feed,
/// against a loopback target, directly and through a real in-process proxy.
/// </summary>
public sealed class PackageConsumerTests(TargetServerFixture fixture) : IClassFixture<TargetServerFixture>
{
    private static readonly string RepositoryRoot = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    [Fact]
    public async Task PackedLibrary_IsInstalledFromAFolderFeed_AndWorksInAFreshConsoleApp()
    {
        var version = $"0.1.0-consumer.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var work = Directory.CreateTempSubdirectory("ps-consumer-").FullName;
        var feed = Path.Combine(work, "feed");
        var app = Path.Combine(work, "app");
        try
        {
            var pack = await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot, "src", "ProxyScheduler", "ProxyScheduler.csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--nologo"], RepositoryRoot);
            pack.Exit.Should().Be(0, pack.Output);
            var packRedis = await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot, "src", "ProxyScheduler.Redis", "ProxyScheduler.Redis.csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--nologo"], RepositoryRoot);
            packRedis.Exit.Should().Be(0, packRedis.Output);
            using (var redisPackage = ZipFile.OpenRead(Path.Combine(feed, $"ProxyScheduler.Redis.{version}.nupkg")))
            {
                redisPackage.Entries.Select(e => e.FullName).Should().Contain(["lib/net8.0/ProxyScheduler.Redis.dll", "lib/net10.0/ProxyScheduler.Redis.dll", "lib/net10.0/ProxyScheduler.Redis.xml", "README.md"]);
                using var nuspec = redisPackage.GetEntry("ProxyScheduler.Redis.nuspec")!.Open();
                var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")! + " " + (string)e.Attribute("version")!).ToList();
                dependencies.Should().Contain($"ProxyScheduler {version}").And.Contain(d => d.StartsWith("StackExchange.Redis ", StringComparison.Ordinal));
            }

            // What the package holds: both targets with XML docs, the README, the license expression, the repository; symbols beside it.
            using (var package = ZipFile.OpenRead(Path.Combine(feed, $"ProxyScheduler.{version}.nupkg")))
            {
                var entries = package.Entries.Select(e => e.FullName).ToList();
                entries.Should().Contain(["lib/net8.0/ProxyScheduler.dll", "lib/net8.0/ProxyScheduler.xml", "lib/net10.0/ProxyScheduler.dll", "lib/net10.0/ProxyScheduler.xml", "README.md"]);
                using var nuspec = package.GetEntry("ProxyScheduler.nuspec")!.Open();
                var metadata = XDocument.Load(nuspec).Root!.Elements().First(e => e.Name.LocalName == "metadata");
                metadata.Elements().First(e => e.Name.LocalName == "license").Value.Should().Be("MIT");
                metadata.Elements().First(e => e.Name.LocalName == "readme").Value.Should().Be("README.md");
                metadata.Elements().Should().Contain(e => e.Name.LocalName == "repository");
            }

            using (var symbols = ZipFile.OpenRead(Path.Combine(feed, $"ProxyScheduler.{version}.snupkg")))
            {
                symbols.Entries.Select(e => e.FullName).Should().Contain(["lib/net8.0/ProxyScheduler.pdb", "lib/net10.0/ProxyScheduler.pdb"]);
            }

            Directory.CreateDirectory(app);
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local-feed" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="ProxyScheduler" Version="{version}" />
                    <PackageReference Include="ProxyScheduler.Redis" Version="{version}" />
                    <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.0" />
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
                using Microsoft.Extensions.DependencyInjection;
                using ProxyScheduler;
                using ProxyScheduler.Proxies;

                var services = new ServiceCollection();
                var builder = services.AddProxyScheduler(o => o.DefaultHost.MaxConcurrency = 2).AddProxies(args[1]);
                if (args.Length > 2)
                {
                    builder.UseRedis(args[2]);   // distributed mode, from the ProxyScheduler.Redis package (not run here)
                }

                await using var provider = services.BuildServiceProvider();
                var scheduler = provider.GetRequiredService<IRequestScheduler>();
                var requests = Enumerable.Range(0, 20).Select(i => new ScheduledRequest(new Uri(new Uri(args[0]), $"?i={i}"))
                {
                    Proxy = i % 2 == 0 ? ProxyRequirement.Direct : null,
                });
                var ok = 0;
                var proxied = 0;
                await foreach (var outcome in scheduler.SendAllAsync(requests))
                {
                    ok += outcome.Response is { IsSuccessStatusCode: true } ? 1 : 0;
                    proxied += outcome.Response?.Proxy is not null ? 1 : 0;
                }

                Console.WriteLine($"ok={ok} proxied={proxied}");
                return ok == 20 ? 0 : 1;
                """);

            await using var proxy = new ForwardProxyServer(new ForwardProxyBehavior());
            var host = fixture.Server.Hosts[15];
            var run = await RunAsync("dotnet", ["run", "-c", "Release", "--", host.ToString(), $"http://127.0.0.1:{proxy.Port}"], app);

            run.Exit.Should().Be(0, run.Output);
            run.Output.Should().Contain("ok=20 proxied=10");
            proxy.Forwarded.Should().Be(10);
            fixture.Server.Counter(host).MaxInFlight.Should().BeLessThanOrEqualTo(2, "the per-host limit holds in the consumer's app too");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            foreach (var id in new[] { "proxyscheduler", "proxyscheduler.redis" })
            {
                var cached = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), id, version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, IEnumerable<string> args, string directory)
    {
        var (exit, output, error) = await ChildProcess.RunAsync(file, args, TimeSpan.FromMinutes(5), directory);
        return (exit, output + error);
    }
}
