using BenchmarkDotNet.Attributes;
using ProxyScheduler.Dispatch;
using ProxyScheduler.Politeness.Internal;

namespace ProxyScheduler.Benchmarks;

/// <summary>The cost of taking and giving back a permit: the dispatcher (host + global) against a bare SemaphoreSlim.</summary>
[MemoryDiagnoser]
#pragma warning disable CA1001 // BenchmarkDotNet disposes through [GlobalCleanup].
public class DispatcherBenchmarks
{
    private readonly SemaphoreSlim _semaphore = new(64);
    private Dispatcher _dispatcher = null!;
    private HostKey[] _hosts = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var options = new ProxySchedulerOptions { MaxConcurrency = 64, DefaultHost = new HostOptions { MaxConcurrency = 8 } };
        _dispatcher = new Dispatcher(64, new HostSettingsResolver(options), TimeProvider.System);
        _hosts = [.. Enumerable.Range(0, 50).Select(i => new HostKey($"h{i}.test", 80))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dispatcher.Dispose();
        _semaphore.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task SemaphoreSlim_WaitRelease()
    {
        await _semaphore.WaitAsync();
        _semaphore.Release();
    }

    [Benchmark]
    public async Task Dispatcher_AcquireRelease()
    {
        var host = _hosts[_next++ % _hosts.Length];
        var lease = await _dispatcher.AcquireAsync(host, 0, CancellationToken.None);
        _dispatcher.Release(lease);
    }
}
