using System.Globalization;
using System.Reflection;
using ProxyScheduler.Tests.TestSupport;

namespace ProxyScheduler.Tests.Docs;

/// <summary>docs/configuration.md lists every option with its real default, so the reference cannot drift from the code.</summary>
public sealed class ConfigurationDocsTests
{
    private static readonly string Doc = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "configuration.md"));

    public static TheoryData<string, string, object?> Options()
    {
        var data = new TheoryData<string, string, object?>();
        Add(data, "## `ProxySchedulerOptions`", new ProxySchedulerOptions());
        Add(data, "## `RetryOptions`", new RetryOptions());
        Add(data, "## `ProxyPoolOptions`", new ProxyScheduler.Proxies.ProxyPoolOptions());
        Add(data, "## `ClassificationOptions`", new ProxyScheduler.Classification.ClassificationOptions());
        Add(data, "## `SessionOptions`", new ProxyScheduler.Proxies.Sessions.SessionOptions());
        Add(data, "## `PostProcessingOptions`", new ProxyScheduler.Processing.PostProcessingOptions());
        Add(data, "## `RobotsOptions`", new ProxyScheduler.Politeness.RobotsOptions());

        // HostOptions values are null (inherited); the table documents the built-in defaults applied to DefaultHost.
        data.Add("## `HostOptions`", nameof(HostOptions.MaxConcurrency), 8);
        data.Add("## `HostOptions`", nameof(HostOptions.MinDelay), TimeSpan.Zero);
        data.Add("## `HostOptions`", nameof(HostOptions.MaxJitter), TimeSpan.Zero);
        return data;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void ConfigurationReference_ListsOptionWithItsDefault(string section, string name, object? expectedDefault)
    {
        var row = FindRow(section, name);
        row.Should().NotBeNull($"docs/configuration.md must document {name} under {section}");
        var cells = row!.Split('|', StringSplitOptions.TrimEntries);
        var documentedDefault = cells[2];
        switch (expectedDefault)
        {
            case null:
                documentedDefault.Should().Be("none");
                break;
            case bool b:
                documentedDefault.Should().Be($"`{(b ? "true" : "false")}`");
                break;
            case TimeSpan t:
                documentedDefault.Should().Be($"`{t.ToString("c", CultureInfo.InvariantCulture)}`");
                break;
            case IFormattable f when expectedDefault is int or long:
                documentedDefault.Should().StartWith($"`{f.ToString(null, CultureInfo.InvariantCulture)}`");
                break;
            default:
                documentedDefault.Should().NotBeEmpty();
                break;
        }
    }

    [Fact]
    public void ConfigurationReference_HasNoOptionThatTheCodeLacks()
    {
        var known = new[] { typeof(ProxySchedulerOptions), typeof(HostOptions), typeof(RetryOptions), typeof(ProxyScheduler.Proxies.ProxyPoolOptions), typeof(ProxyScheduler.Classification.ClassificationOptions), typeof(ProxyScheduler.Proxies.Sessions.SessionOptions), typeof(ProxyScheduler.Processing.PostProcessingOptions), typeof(ProxyScheduler.Politeness.RobotsOptions) }
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)).Select(p => p.Name).ToHashSet();
        var section = string.Empty;
        foreach (var line in Doc.Split('\n'))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                section = line;
            }

            if (section.Contains("Options`", StringComparison.Ordinal) && line.StartsWith("| `", StringComparison.Ordinal))
            {
                var key = line.Split('`')[1];
                known.Should().Contain(key, $"the row '{line.Trim()}' documents an option that does not exist");
            }
        }
    }

    private static void Add(TheoryData<string, string, object?> data, string section, object options)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(options);
            if (property.PropertyType.IsClass && property.PropertyType != typeof(string))
            {
                value = "(section)";
            }

            data.Add(section, property.Name, value);
        }
    }

    private static string? FindRow(string section, string name)
    {
        var start = Doc.IndexOf(section, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var end = Doc.IndexOf("\n## ", start + section.Length, StringComparison.Ordinal);
        var body = end < 0 ? Doc[start..] : Doc[start..end];
        return body.Split('\n').FirstOrDefault(l => l.StartsWith($"| `{name}` |", StringComparison.Ordinal));
    }
}
