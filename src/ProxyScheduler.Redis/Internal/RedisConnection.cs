using StackExchange.Redis;

namespace ProxyScheduler.Redis.Internal;

/// <summary>The connection of distributed mode: the application's multiplexer, or one made from <see cref="RedisOptions.Configuration"/> (and owned).</summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly Func<Task<IConnectionMultiplexer>> _factory;
    private readonly bool _owned;
    private Lazy<Task<IConnectionMultiplexer>> _connection;

    public RedisConnection(IConnectionMultiplexer connection)
    {
        _factory = () => Task.FromResult(connection);
        _connection = new Lazy<Task<IConnectionMultiplexer>>(_factory);
    }

    public RedisConnection(string configuration)
    {
        _owned = true;
        _factory = async () =>
        {
            var options = ConfigurationOptions.Parse(configuration);
            options.AbortOnConnectFail = false; // keep trying in the background: the unavailable policy covers the gap
            options.BacklogPolicy = BacklogPolicy.FailFast; // while disconnected, fail at once instead of queueing
            return await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        };
        _connection = new Lazy<Task<IConnectionMultiplexer>>(_factory);
    }

    /// <summary>Gets the database once connected (call after <see cref="GetAsync"/> completed).</summary>
    public IDatabase Database => _connection.Value.Result.GetDatabase();

    public Task<IConnectionMultiplexer> GetAsync() => _connection.Value;

    /// <summary>Gets the database when the connection is made (it may be disconnected for now); <see langword="false"/> before.</summary>
    public bool TryGetDatabase(out IDatabase database)
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            database = _connection.Value.Result.GetDatabase();
            return true;
        }

        database = null!;
        return false;
    }

    /// <summary>Forgets a connection attempt that failed, so that the next <see cref="GetAsync"/> tries again.</summary>
    public void Reset()
    {
        if (_connection.IsValueCreated && _connection.Value.IsFaulted)
        {
            _connection = new Lazy<Task<IConnectionMultiplexer>>(_factory);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned && _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await _connection.Value.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
