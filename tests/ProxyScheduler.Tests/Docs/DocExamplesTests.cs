using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Docs;

/// <summary>Every C# example of docs/proxies.md, docs/post-processing.md and docs/observability.md is compiled: it must appear in samples/ProxyScheduler.QuickStart/DocSnippets.cs.</summary>
public sealed class DocExamplesTests
{
    public static TheoryData<string, int, string> Blocks()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var page in new[] { "proxies.md", "post-processing.md", "observability.md", "distributed.md" })
        {
            var doc = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", page));
            var parts = doc.Split("```");
            for (int i = 1, n = 1; i < parts.Length; i += 2)
            {
                if (parts[i].StartsWith("csharp", StringComparison.Ordinal))
                {
                    data.Add(page, n++, parts[i]["csharp".Length..]);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Example_IsCompiledInTheSamples(string page, int number, string block)
    {
        var snippets = Normalize(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "samples", "ProxyScheduler.QuickStart", "DocSnippets.cs")));

        snippets.Should().Contain(Normalize(block), $"C# example {number} of docs/{page} must be compiled in DocSnippets.cs");
    }

    private static string Normalize(string code) =>
        string.Join('\n', code.Split('\n').Select(static l => l.Trim()).Where(static l => l.Length > 0));
}
