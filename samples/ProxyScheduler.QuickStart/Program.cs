// The README's quick start. Usage: dotnet run --project samples/ProxyScheduler.QuickStart -- http://127.0.0.1:5000/
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler;

var services = new ServiceCollection();
services.AddProxyScheduler(options =>
    {
        options.MaxConcurrency = 64;                  // across all hosts
        options.DefaultHost.MaxConcurrency = 4;       // per host (name + port)
        options.DefaultHost.MinDelay = TimeSpan.FromMilliseconds(250);
    })
    .ConfigureHost("*.example.com", host => host.MaxConcurrency = 2);

await using var provider = services.BuildServiceProvider();
var scheduler = provider.GetRequiredService<IRequestScheduler>();

var response = await scheduler.SendAsync(new ScheduledRequest(args.Length > 0 ? args[0] : "https://example.com/"));
Console.WriteLine($"{(int)response.StatusCode} after {response.Attempts} attempt(s): {response.Body.Length} bytes");
