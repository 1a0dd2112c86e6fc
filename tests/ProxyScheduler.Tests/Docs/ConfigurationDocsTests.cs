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
        Add(data, "## `HostHealthOptions`", new HostHealthOptions());
        Add(data, "## `RedisOptions`", new ProxyScheduler.Redis.RedisOptions());
        Add(data, "## `RedisWorkQueueOptions`", new ProxyScheduler.Redis.RedisWorkQueueOptions());

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

    public static TheoryData<string, string, string, string> Ranges()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach (var (section, type) in Sections)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>() is { } range)
                {
                    data.Add(section, property.Name, Describe(range.OperandType, range.Minimum), Describe(range.OperandType, range.Maximum));
                }
            }
        }

        return data;
    }

    /// <summary>The rule column states the bounds the code validates ([Range] on the option), so the two cannot drift.</summary>
    [Theory]
    [MemberData(nameof(Ranges))]
    public void ConfigurationReference_StatesTheValidatedRange(string section, string name, string minimum, string maximum)
    {
        var row = FindRow(section, name);
        row.Should().NotBeNull($"docs/configuration.md must document {name} under {section}");
        var rule = Normalize(row!.Split('|', StringSplitOptions.TrimEntries)[3]);

        rule.Should().Contain(Normalize(minimum), $"the rule of {name} states its minimum").And.Contain(Normalize(maximum), $"the rule of {name} states its maximum");
    }

    [Fact]
    public void ConfigurationReference_DocumentsEveryHostOption()
    {
        foreach (var property in typeof(HostOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            FindRow("## `HostOptions`", property.Name).Should().NotBeNull($"docs/configuration.md must document HostOptions.{property.Name}");
        }
    }

    private static readonly (string Section, Type Type)[] Sections =
    [
        ("## `ProxySchedulerOptions`", typeof(ProxySchedulerOptions)),
        ("## `HostOptions`", typeof(HostOptions)),
        ("## `RetryOptions`", typeof(RetryOptions)),
        ("## `ProxyPoolOptions`", typeof(ProxyScheduler.Proxies.ProxyPoolOptions)),
        ("## `ClassificationOptions`", typeof(ProxyScheduler.Classification.ClassificationOptions)),
        ("## `SessionOptions`", typeof(ProxyScheduler.Proxies.Sessions.SessionOptions)),
        ("## `PostProcessingOptions`", typeof(ProxyScheduler.Processing.PostProcessingOptions)),
        ("## `RobotsOptions`", typeof(ProxyScheduler.Politeness.RobotsOptions)),
        ("## `HostHealthOptions`", typeof(HostHealthOptions)),
        ("## `RedisOptions`", typeof(ProxyScheduler.Redis.RedisOptions)),
        ("## `RedisWorkQueueOptions`", typeof(ProxyScheduler.Redis.RedisWorkQueueOptions)),
    ];

    /// <summary>A bound as the reference writes it: numbers plainly, time spans in their largest whole unit (<c>1 ms</c>, <c>30 s</c>, <c>7 days</c>).</summary>
    private static string Describe(Type type, object bound)
    {
        if (type != typeof(TimeSpan))
        {
            return Convert.ToString(bound, CultureInfo.InvariantCulture)!;
        }

        var t = TimeSpan.Parse((string)bound, CultureInfo.InvariantCulture);
        return t == TimeSpan.Zero ? "0"
            : t.Ticks % TimeSpan.TicksPerDay == 0 ? $"{t.Days} day{(t.Days == 1 ? string.Empty : "s")}"
            : t.Ticks % TimeSpan.TicksPerHour == 0 ? $"{(int)t.TotalHours} h"
            : t.Ticks % TimeSpan.TicksPerMinute == 0 ? $"{(int)t.TotalMinutes} min"
            : t.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{(int)t.TotalSeconds} s"
            : $"{t.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms";
    }

    private static string Normalize(string text) => text.Replace(" ", string.Empty, StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal);

    [Fact]
    public void ConfigurationReference_HasNoOptionThatTheCodeLacks()
    {
        var known = new[] { typeof(ProxySchedulerOptions), typeof(HostOptions), typeof(RetryOptions), typeof(ProxyScheduler.Proxies.ProxyPoolOptions), typeof(ProxyScheduler.Classification.ClassificationOptions), typeof(ProxyScheduler.Proxies.Sessions.SessionOptions), typeof(ProxyScheduler.Processing.PostProcessingOptions), typeof(ProxyScheduler.Politeness.RobotsOptions), typeof(HostHealthOptions), typeof(ProxyScheduler.Redis.RedisOptions), typeof(ProxyScheduler.Redis.RedisWorkQueueOptions) }
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
