namespace ProxyScheduler.Tests.TestSupport;

/// <summary>The repository's root, found above the test binaries, for tests that read docs and samples.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "ProxyScheduler.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (ProxyScheduler.sln) was not found above the test binaries.");
    }
}
