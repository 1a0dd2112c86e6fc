namespace ProxyScheduler.IntegrationTests;

/// <summary>Waits, in real time and bounded, for a condition that servers and other threads make true (no fixed sleeps).</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string because, int timeoutMs = 15_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Condition not met within {timeoutMs} ms: {because}");
            }

            await Task.Delay(5);
        }
    }
}
