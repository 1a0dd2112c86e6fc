using System.Globalization;

namespace ProxyScheduler.Demo;

/// <summary>The demo's command line: no flags runs the embedded world; <c>--urls</c> crawls real URLs.</summary>
internal sealed class DemoOptions
{
    public const string Usage = """
        ProxyScheduler demo

        With no flags: starts an embedded world on 127.0.0.1 (20 sites of different temperaments, 12 real forward
        proxies: healthy, slow, dead, flaky, one with credentials) and crawls it, with a live display and a report.

        Usage:
          dotnet run --project samples/ProxyScheduler.Demo -c Release [-- FLAGS]

        Embedded world:
          --requests N          requests to send (default 3000, 100-100000)
          --no-live             plain progress lines instead of the live display
          --redis CONNECTION    fleet mode: the crawl is shared by several workers coordinating through this Redis
                                (a StackExchange.Redis configuration string, e.g. 127.0.0.1:6379); limits, proxy
                                health and sessions hold for the fleet
          --workers N           workers in fleet mode (default 3, 1-16)
          --deadline SECONDS    stop the run after this long (default 55; requests not done by then are cut short)

        Real use (crawl your own URLs):
          --urls FILE           one URL a line (# comments and blank lines skipped); "-" reads stdin
          --proxies FILE        proxies, one a line, in any format ProxyScheduler reads
                                (http://user:pass@host:port, socks5://host:port, host:port:user:pass, ...)
          --output FILE         results as JSON Lines (default "-": stdout; progress goes to stderr)
          --concurrency N       global limit of requests in flight (default 64)
          --per-host N          limit per host (default 4)
          --delay MS            minimum milliseconds between two starts to one host (default 0)
          --rate N              most starts per second to one host (default: none)
          --adaptive            adapt each host's limit and pacing to its 429/503 and latency
          --retries N           retries after throttling or server errors (default 2)
          --timeout SECONDS     timeout of each attempt (default 30)
          --session KEY         send every request in one sticky session (one proxy identity)
          --session-max-uses N  rotate a session's proxy after N requests (default: never)
          --robots              honour robots.txt (User-Agent ProxySchedulerDemo)
          --redis CONNECTION    run as one worker of a fleet: limits, proxy health and sessions are shared with every
                                process started with the same --redis
          --deadline SECONDS    stop the run after this long (default: none; requests not done by then are cut short)

          -h, --help            this text

        Exit codes:
          0  every request succeeded (with --urls: answered 2xx; in the world run: answered, every limit held, no
             credential reached a host)
          1  a request failed (no answer: proxies unavailable, host down, timeouts, ...), a limit was exceeded or a
             credential reached a host
          2  bad flags or files
          3  coordination unavailable: Redis could not be reached (fleet mode), requests failed for it
          4  the deadline was reached: the run was cut short
          5  (--urls) every request was answered, but some with a status other than 2xx (404, 500, ...)
        """;

    /// <summary>The exit codes, as documented in <see cref="Usage"/> and the README.</summary>
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;
    public const int ExitCoordinationUnavailable = 3;
    public const int ExitDeadline = 4;
    public const int ExitHttpErrors = 5;

    public int Requests { get; private set; } = 3_000;

    public bool Live { get; private set; } = true;

    public string? UrlsFile { get; private set; }

    public string? ProxiesFile { get; private set; }

    public string Output { get; private set; } = "-";

    public int Concurrency { get; private set; } = 64;

    public int PerHost { get; private set; } = 4;

    public int DelayMs { get; private set; }

    public double? Rate { get; private set; }

    public bool Adaptive { get; private set; }

    public int Retries { get; private set; } = 2;

    public int TimeoutSeconds { get; private set; } = 30;

    public string? Session { get; private set; }

    public int SessionMaxUses { get; private set; }

    public bool Robots { get; private set; }

    public bool Help { get; private set; }

    public string? Redis { get; private set; }

    public int Workers { get; private set; } = 3;

    /// <summary>Gets the run's deadline in seconds, when one is given.</summary>
    public int? DeadlineSeconds { get; private set; }

    /// <summary>Parses the flags; throws <see cref="DemoUsageException"/> naming the offending flag.</summary>
    public static DemoOptions Parse(IReadOnlyList<string> args)
    {
        var o = new DemoOptions();
        var worldOnly = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new DemoUsageException($"{flag} needs a value.");
            int Int(int min, int max)
            {
                var text = Value();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                    ? n
                    : throw new DemoUsageException($"{flag} takes a whole number from {min} to {max}; got '{text}'.");
            }

            switch (flag)
            {
                case "-h" or "--help": o.Help = true; break;
                case "--requests": o.Requests = Int(100, 100_000); worldOnly.Add(flag); break;
                case "--no-live": o.Live = false; break;
                case "--urls": o.UrlsFile = Value(); break;
                case "--proxies": o.ProxiesFile = Value(); break;
                case "--output": o.Output = Value(); break;
                case "--concurrency": o.Concurrency = Int(1, 100_000); break;
                case "--per-host": o.PerHost = Int(1, 100_000); break;
                case "--delay": o.DelayMs = Int(0, 86_400_000); break;
                case "--rate":
                    var rate = Value();
                    o.Rate = double.TryParse(rate, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is > 0 and <= 1_000_000
                        ? r
                        : throw new DemoUsageException($"--rate takes a number of starts per second above 0 (at most 1000000); got '{rate}'.");
                    break;
                case "--adaptive": o.Adaptive = true; break;
                case "--retries": o.Retries = Int(0, 100); break;
                case "--timeout": o.TimeoutSeconds = Int(1, 86_400); break;
                case "--session":
                    o.Session = Value();
                    if (o.Session.Length is 0 or > 256)
                    {
                        throw new DemoUsageException("--session takes a key of 1 to 256 characters.");
                    }

                    break;
                case "--session-max-uses": o.SessionMaxUses = Int(1, 1_000_000); break;
                case "--robots": o.Robots = true; break;
                case "--redis": o.Redis = Value(); break;
                case "--workers": o.Workers = Int(1, 16); worldOnly.Add(flag); break;
                case "--deadline": o.DeadlineSeconds = Int(1, 86_400); break;
                default:
                    throw new DemoUsageException(flag.StartsWith('-') ? $"Unknown flag {flag}." : $"Unexpected argument '{flag}' (flags start with --).");
            }
        }

        if (o.UrlsFile is null && (o.ProxiesFile is not null || o.Output != "-" || o.Session is not null))
        {
            throw new DemoUsageException("--proxies, --output and --session go with --urls (the embedded world brings its own proxies).");
        }

        if (worldOnly.Contains("--workers") && o.Redis is null)
        {
            throw new DemoUsageException("--workers goes with --redis (fleet mode).");
        }

        if (o.Redis is not null)
        {
            try
            {
                _ = StackExchange.Redis.ConfigurationOptions.Parse(o.Redis);
            }
            catch (ArgumentException ex)
            {
                throw new DemoUsageException($"--redis is not a valid Redis configuration string: {ex.Message.Split('\n')[0]}");
            }
        }

        if (o.UrlsFile is not null && worldOnly.Count > 0)
        {
            throw new DemoUsageException($"{worldOnly[0]} is for the embedded world; with --urls the file says how many requests.");
        }

        return o;
    }
}

/// <summary>A bad flag or file: the demo prints the message and exits with code 2.</summary>
internal sealed class DemoUsageException(string message) : Exception(message);
