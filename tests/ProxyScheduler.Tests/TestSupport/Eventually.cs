namespace ProxyScheduler.Tests.TestSupport;

/// <summary>Waits, in real time and bounded, for a condition that other threads make true (no fixed sleeps).</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string because, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Condition not met within {timeoutMs} ms: {because}");
            }

            await Task.Delay(1);
        }
    }

    /// <summary>Lets queued continuations run, then checks that a condition still does not hold.</summary>
    public static async Task StaysFalseAsync(Func<bool> condition, string because, int settleMs = 100)
    {
        var deadline = Environment.TickCount64 + settleMs;
        while (Environment.TickCount64 < deadline)
        {
            if (condition())
            {
                throw new InvalidOperationException($"Condition became true: {because}");
            }

            await Task.Delay(1);
        }
    }
}
