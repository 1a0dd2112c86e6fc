// The main job. With no flags: an embedded world on 127.0.0.1 (about 20 sites of different temperaments, about a dozen
// real forward proxies) crawled through ProxyScheduler, with a live display and a report of what the target server
// counted. With --urls: a real crawl of your URLs, results as JSON Lines. --help lists every flag.
using ProxyScheduler.Demo;

DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (DemoUsageException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine("Run with --help for the flags.");
    return DemoOptions.ExitUsage;
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

try
{
    return options.UrlsFile is null ? await WorldRun.RunAsync(options) : await RealRun.RunAsync(options);
}
catch (DemoUsageException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return DemoOptions.ExitUsage;
}
