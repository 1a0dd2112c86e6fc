using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Docs;

/// <summary>Every C# example of docs/proxies.md is compiled: it must appear in samples/ProxyScheduler.QuickStart/DocSnippets.cs.</summary>
public sealed class ProxiesDocsTests
{
    public static TheoryData<int, string> Blocks()
    {
        var root = RepositoryRoot.Path;
        var doc = File.ReadAllText(Path.Combine(root, "docs", "proxies.md"));
        var data = new TheoryData<int, string>();
        var parts = doc.Split("```");
        for (int i = 1, n = 1; i < parts.Length; i += 2)
        {
            if (parts[i].StartsWith("csharp", StringComparison.Ordinal))
            {
                data.Add(n++, parts[i]["csharp".Length..]);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Example_IsCompiledInTheSamples(int number, string block)
    {
        var snippets = Normalize(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "samples", "ProxyScheduler.QuickStart", "DocSnippets.cs")));

        snippets.Should().Contain(Normalize(block), $"C# example {number} of docs/proxies.md must be compiled in DocSnippets.cs");
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(static l => l.Trim()).Where(static l => l.Length > 0));
}
