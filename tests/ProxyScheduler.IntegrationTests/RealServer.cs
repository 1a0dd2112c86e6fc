namespace ProxyScheduler.IntegrationTests;

/// <summary>
/// Tests that need a server from the system's packages: skipped locally with the reason when it is missing, failed when
/// <c>CI=true</c> (./test.sh installs them), so no test ever skips silently in CI.
/// </summary>
public static class RealServer
{
    public static void Require(string executable)
    {
        if (ProxyScheduler.Testing.ExternalServer.Find(executable) is not null)
        {
            return;
        }

        var reason = $"{executable} is not installed (./test.sh installs it with apt-get).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(reason + " CI=true: a missing server is a failure, not a skip.");
        }

        Skip.If(true, reason);
    }
}
