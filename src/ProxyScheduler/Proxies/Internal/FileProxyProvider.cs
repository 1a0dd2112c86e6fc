using Microsoft.Extensions.Primitives;

namespace ProxyScheduler.Proxies.Internal;

/// <summary>
/// A proxy list file (one proxy a line, any format <see cref="ProxyEndpoint.Parse"/> accepts, <c>#</c> comments),
/// watched for changes. Replace the file atomically (write a temporary file, then rename it over the list) so that a
/// reader never sees half a list; a list that fails to parse is rejected whole and the previous one stays.
/// </summary>
internal sealed class FileProxyProvider : IProxyProvider, IDisposable
{
    private readonly string _path;
    private readonly FileSystemWatcher? _watcher;
    private readonly ChangeSignal _changed = new();

    public FileProxyProvider(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _path = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(_path)!;
        if (Directory.Exists(directory))
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(_path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => _changed.Fire();
            _watcher.Created += (_, _) => _changed.Fire();
            _watcher.Renamed += (_, _) => _changed.Fire();
            _watcher.Deleted += (_, _) => _changed.Fire();
            _watcher.EnableRaisingEvents = true;
        }
    }

    public string Name => "file:" + Path.GetFileName(_path);

    public IReadOnlyList<ProxyEndpoint> GetProxies()
    {
        if (!File.Exists(_path))
        {
            throw new FileNotFoundException($"The proxy list file '{Path.GetFileName(_path)}' does not exist.");
        }

        try
        {
            return ProxyEndpoint.ParseList(File.ReadAllLines(_path));
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{Path.GetFileName(_path)}: {ex.Message}", ex);
        }
    }

    public IChangeToken GetChangeToken() => _changed.GetToken();

    public void Dispose()
    {
        _watcher?.Dispose();
        _changed.Dispose();
    }
}
