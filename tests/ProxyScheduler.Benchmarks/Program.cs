using BenchmarkDotNet.Running;
using ProxyScheduler.Benchmarks;

// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- load [requests]
// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- load-proxied [requests]   (through 4 tinyproxy instances)
// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- postprocess [responses] [KiB]   (parallel post-processing, DOP 1 vs cores)
// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- fleet [requests]   (one worker, Redis vs local coordination; needs redis-server)
// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- resets [requests] [every]   (target resets 1 connection in every; needs tinyproxy)
// dotnet run -c Release --project tests/ProxyScheduler.Benchmarks -- micro [BenchmarkDotNet arguments]
// (the "serve" mode is the load benchmark's target server, started as a child process)
return args.FirstOrDefault() switch
{
    "load" => await LoadBenchmark.RunAsync(args.Skip(1).ToArray()),
    "load-proxied" => await LoadBenchmark.RunProxiedAsync(args.Skip(1).ToArray()),
    "serve" => await LoadBenchmark.ServeAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture)),
    "overhead" => await OverheadBenchmark.RunAsync(args.Skip(1).ToArray()),
    "postprocess" => await PostProcessingBenchmark.RunAsync(args.Skip(1).ToArray()),
    "fleet" => await FleetBenchmark.RunAsync(args.Skip(1).ToArray()),
    "resets" => await ResetSoakBenchmark.RunAsync(args.Skip(1).ToArray()),
    "micro" => RunMicro(args.Skip(1).ToArray()),
    _ => Usage(),
};

static int RunMicro(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(LoadBenchmark).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: ProxyScheduler.Benchmarks load [requests] | load-proxied [requests] | fleet [requests] | resets [requests] [every] | overhead | postprocess [responses] [KiB] | micro [BenchmarkDotNet arguments]");
    return 2;
}
