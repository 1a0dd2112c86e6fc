namespace ProxyScheduler;

/// <summary>Converts durations to ticks of a <see cref="TimeProvider"/>'s timestamps (<see cref="TimeProvider.GetTimestamp"/>).</summary>
internal static class TimestampConversions
{
    public static long ToTimestampTicks(this TimeProvider time, TimeSpan span) =>
        (long)(span.Ticks * ((double)time.TimestampFrequency / TimeSpan.TicksPerSecond));
}
