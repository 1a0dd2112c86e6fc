namespace ProxyScheduler.Processing.Internal;

/// <summary>What a worker keeps per item while a chain runs: the step running now (for failures) and the item's services.</summary>
internal sealed class StepContext
{
    /// <summary>Gets or sets the position of the step that runs now.</summary>
    public int Step { get; set; }

    /// <summary>Gets or sets the services of the item's scope, when a step is resolved per item.</summary>
    public IServiceProvider? Services { get; set; }
}

/// <summary>The processors of a pipeline, run one after the other on the worker that took the item.</summary>
/// <typeparam name="TResult">The result of the last step.</typeparam>
internal abstract class ProcessingChain<TResult>
{
    protected ProcessingChain(int length, bool usesScope)
    {
        Length = length;
        UsesScope = usesScope;
    }

    /// <summary>Gets the number of steps.</summary>
    public int Length { get; }

    /// <summary>Gets a value indicating whether a step is resolved per item, so that each item needs a service scope.</summary>
    public bool UsesScope { get; }

    public abstract ValueTask<TResult> RunAsync(ScheduledResponse response, StepContext context, CancellationToken cancellationToken);
}

/// <summary>Where a step's processor comes from: one instance, one resolved once from the root services, or one resolved per item.</summary>
internal sealed class ProcessorSource<TProcessor>
    where TProcessor : class
{
    private readonly TProcessor? _instance;
    private readonly Lazy<TProcessor>? _singleton;
    private readonly Type? _perItem;

    private ProcessorSource(TProcessor? instance, Lazy<TProcessor>? singleton, Type? perItem)
    {
        _instance = instance;
        _singleton = singleton;
        _perItem = perItem;
    }

    public bool PerItem => _perItem is not null;

    public static ProcessorSource<TProcessor> Fixed(TProcessor instance) => new(instance, null, null);

    public static ProcessorSource<TProcessor> Singleton(IServiceProvider services, Type implementation) =>
        new(null, new Lazy<TProcessor>(() => (TProcessor)Resolve(services, implementation)), null);

    public static ProcessorSource<TProcessor> Scoped(Type implementation) => new(null, null, implementation);

    public TProcessor Get(StepContext context) =>
        _instance ?? _singleton?.Value ?? (TProcessor)Resolve(context.Services!, _perItem!);

    private static object Resolve(IServiceProvider services, Type type) =>
        services.GetService(type) ?? throw new InvalidOperationException($"The post-processor {type.Name} is not registered in the service provider.");
}

/// <summary>The first step: response to result.</summary>
internal sealed class FirstStep<TResult> : ProcessingChain<TResult>
{
    private readonly ProcessorSource<IParallelPostProcessor<TResult>> _source;

    public FirstStep(ProcessorSource<IParallelPostProcessor<TResult>> source)
        : base(1, source.PerItem)
    {
        _source = source;
    }

    public override ValueTask<TResult> RunAsync(ScheduledResponse response, StepContext context, CancellationToken cancellationToken)
    {
        context.Step = 0;
        return _source.Get(context).ProcessAsync(response, cancellationToken);
    }
}

/// <summary>A later step: the result of the steps before to a new result.</summary>
internal sealed class NextStep<TInput, TResult> : ProcessingChain<TResult>
{
    private readonly ProcessingChain<TInput> _previous;
    private readonly ProcessorSource<IParallelPostProcessor<TInput, TResult>> _source;
    private readonly int _index;

    public NextStep(ProcessingChain<TInput> previous, ProcessorSource<IParallelPostProcessor<TInput, TResult>> source)
        : base(previous.Length + 1, previous.UsesScope || source.PerItem)
    {
        _previous = previous;
        _source = source;
        _index = previous.Length;
    }

    public override ValueTask<TResult> RunAsync(ScheduledResponse response, StepContext context, CancellationToken cancellationToken)
    {
        var before = _previous.RunAsync(response, context, cancellationToken);
        return before.IsCompletedSuccessfully
            ? RunStep(before.Result, response, context, cancellationToken)
            : AwaitThenRunAsync(before, response, context, cancellationToken);
    }

    private ValueTask<TResult> RunStep(TInput input, ScheduledResponse response, StepContext context, CancellationToken cancellationToken)
    {
        context.Step = _index;
        return _source.Get(context).ProcessAsync(input, response, cancellationToken);
    }

    private async ValueTask<TResult> AwaitThenRunAsync(ValueTask<TInput> before, ScheduledResponse response, StepContext context, CancellationToken cancellationToken)
    {
        var input = await before.ConfigureAwait(false);
        return await RunStep(input, response, context, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A processor made of a delegate.</summary>
internal sealed class DelegateProcessor<TResult> : ParallelPostProcessor<TResult>
{
    private readonly Func<ScheduledResponse, CancellationToken, TResult> _process;

    public DelegateProcessor(Func<ScheduledResponse, CancellationToken, TResult> process) => _process = process;

    protected override TResult Process(ScheduledResponse response, CancellationToken cancellationToken) => _process(response, cancellationToken);
}

/// <summary>A later step made of a delegate.</summary>
internal sealed class DelegateProcessor<TInput, TResult> : ParallelPostProcessor<TInput, TResult>
{
    private readonly Func<TInput, ScheduledResponse, CancellationToken, TResult> _process;

    public DelegateProcessor(Func<TInput, ScheduledResponse, CancellationToken, TResult> process) => _process = process;

    protected override TResult Process(TInput input, ScheduledResponse response, CancellationToken cancellationToken) => _process(input, response, cancellationToken);
}
