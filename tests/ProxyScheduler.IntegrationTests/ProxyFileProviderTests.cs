using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxyScheduler.IntegrationTests;

/// <summary>The proxy list file: read at start, re-read when it is replaced, a bad version rejected whole.</summary>
public sealed class ProxyFileProviderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ps-proxies-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string ListPath => Path.Combine(_directory, "proxies.txt");

    private void Replace(params string[] lines)
    {
        var temporary = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".tmp");
        File.WriteAllLines(temporary, lines);
        File.Move(temporary, ListPath, overwrite: true);
    }

    [Fact]
    public async Task ProxyFile_ChangesAreApplied_AndABadVersionKeepsThePreviousList()
    {
        Replace("# two proxies", "10.0.0.1:8080", "http://u:secretpw@10.0.0.2:8080");
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddProxyScheduler().AddProxyFile(ListPath);
        await using var provider = services.BuildServiceProvider();
        var sut = provider.GetRequiredService<IRequestScheduler>();
        sut.GetSnapshot().Proxies.Should().HaveCount(2);

        Replace("10.0.0.2:8080:u:secretpw", "10.0.0.3:8080", "socks5://10.0.0.4:1080");
        await Eventually.TrueAsync(() => sut.GetSnapshot().Proxies.Count == 3, "the new list is applied: one added twice over, one removed");
        sut.GetSnapshot().Proxies.Select(p => p.Address).Should().NotContain(a => a.Contains("10.0.0.1", StringComparison.Ordinal), "a proxy no longer listed leaves");

        Replace("10.0.0.3:8080", "not a proxy at all");
        await Eventually.TrueAsync(() => logs.Lines.Any(l => l.Contains("ProxyListRejected", StringComparison.Ordinal)), "the bad version is rejected and logged");
        sut.GetSnapshot().Proxies.Should().HaveCount(3, "a list that fails to parse is rejected whole");
        logs.Lines.Single(l => l.Contains("ProxyListRejected", StringComparison.Ordinal)).Should().Contain("Line 2").And.NotContain("secretpw");
    }

    [Fact]
    public void ProxyFile_MissingAtStart_FailsWithTheFileName()
    {
        var services = new ServiceCollection();
        services.AddProxyScheduler().AddProxyFile(Path.Combine(_directory, "absent.txt"));
        using var provider = services.BuildServiceProvider();

        FluentActions.Invoking(() => provider.GetRequiredService<IRequestScheduler>()).Should().Throw<InvalidOperationException>().WithMessage("*absent.txt*");
    }
}
