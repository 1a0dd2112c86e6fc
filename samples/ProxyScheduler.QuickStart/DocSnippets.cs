// The C# examples of docs/proxies.md, compiled with the solution (never run: their addresses are examples).
// A docs test checks that every C# block of that page appears here, so the page cannot drift from the API.
using Microsoft.Extensions.DependencyInjection;
using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Sessions;

namespace ProxyScheduler.QuickStart;

internal static class DocSnippets
{
    public static async Task ProxiesAsync(IServiceCollection services, IRequestScheduler scheduler)
    {
        services.AddProxyScheduler(o =>
            {
                o.ProxyPool.MaxConcurrencyPerProxy = 8;             // per proxy
                o.ProxyPool.QuarantineAfter = 3;                    // proxy failures in a row
                o.Classification.BlockMarkers.Add("captcha");       // a CAPTCHA page is a block
            })
            .AddProxies("http://user:pass@10.0.0.1:8080", "socks5://10.0.1.1:1080", "10.0.2.1:3128:user:pass")
            .AddProxyFile("proxies.txt");                           // re-read when it changes

        var de = await scheduler.SendAsync(new ScheduledRequest("https://shop.example/") { Proxy = ProxyRequirement.WithTag("country", "de") });
        Console.WriteLine($"{de.StatusCode} through {de.Proxy!.Id}, tried {string.Join(", ", de.ProxiesTried)}");
    }

    public static async Task SessionsAsync(IRequestScheduler scheduler)
    {
        var response = await scheduler.SendAsync(new ScheduledRequest("https://shop.example/cart") { SessionKey = "user-42" });
        if (response.SessionRebound) { /* the session moved to another identity during this request */ }
    }

    public static async Task GatewayAsync(IServiceCollection services, IRequestScheduler scheduler)
    {
        services.AddProxyScheduler()
            .AddGatewayProxy(g =>
            {
                g.Address = "http://pr.oxylabs.io:7777";          // no credentials here
                g.Preset = GatewayPreset.Oxylabs;                  // customer-{user}[-cc-{country}]...[-sessid-{session}][-sesstime-{minutes}]
                g.User = "acme";
                g.Password = "…";
                g.SessionLifetime = TimeSpan.FromMinutes(10);      // the provider's sticky time: rendered, and rotated at 90 %
            });

        await scheduler.SendAsync(new ScheduledRequest("https://shop.example/") { SessionKey = "user-42", Proxy = ProxyRequirement.WithTag("country", "de") });
    }
}
