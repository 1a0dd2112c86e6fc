using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ProxyScheduler;
using ProxyScheduler.Processing;
using ProxyScheduler.Processing.Internal;
using ProxyScheduler.Scheduling.Internal;

#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers post-processing pipelines with <see cref="IProxySchedulerBuilder"/>.</summary>
#pragma warning disable RS0026 // The two AddPostProcessor differ in generic arity, so a call never matches both.
public static class PostProcessingBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TProcessor"/> and a <see cref="PostProcessingPipeline{TResult}"/> that starts with it;
    /// inject <c>PostProcessingPipeline&lt;TResult&gt;</c> to run it. The processor is resolved per the lifetime of its
    /// registration: <see cref="ServiceLifetime.Singleton"/> once (it then runs on several workers at once and must be
    /// thread-safe), <see cref="ServiceLifetime.Scoped"/> or <see cref="ServiceLifetime.Transient"/> once per item, from a
    /// scope of that item's own, so scoped services work and are disposed when the item is done. If
    /// <typeparamref name="TProcessor"/> is registered already, that registration (and its lifetime) is used.
    /// </summary>
    /// <typeparam name="TProcessor">The processor.</typeparam>
    /// <typeparam name="TResult">Its result; one pipeline per result type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="lifetime">The processor's lifetime. Default: transient (one per item).</param>
    /// <param name="configure">
    /// Changes this pipeline's options, which start from <c>ProxyScheduler:PostProcessing</c>; they are checked at
    /// start-up, and a bad one fails it with a message naming this registration.
    /// </param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">A pipeline producing <typeparamref name="TResult"/> is registered already.</exception>
    public static IProxySchedulerBuilder AddPostProcessor<TProcessor, TResult>(this IProxySchedulerBuilder builder, ServiceLifetime lifetime = ServiceLifetime.Transient, Action<PostProcessingOptions>? configure = null)
        where TProcessor : class, IParallelPostProcessor<TResult>
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        ThrowIfRegistered<TResult>(services, typeof(TProcessor));
        services.TryAdd(ServiceDescriptor.Describe(typeof(TProcessor), typeof(TProcessor), lifetime));
        var perItem = LifetimeOf(services, typeof(TProcessor)) != ServiceLifetime.Singleton;

        var name = $"AddPostProcessor<{NameOf(typeof(TProcessor))}, {NameOf(typeof(TResult))}>";
        var options = services.AddOptions<PostProcessingOptions>(name)
            .Configure<IOptions<ProxySchedulerOptions>>(static (options, root) => root.Value.PostProcessing?.CopyTo(options));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostProcessingOptions>, PostProcessingOptionsValidator>());

        services.AddSingleton(sp =>
        {
            var scheduler = SchedulerCore.From(sp.GetRequiredService<IRequestScheduler>(), "scheduler");
            var source = perItem
                ? ProcessorSource<IParallelPostProcessor<TResult>>.Scoped(typeof(TProcessor))
                : ProcessorSource<IParallelPostProcessor<TResult>>.Singleton(sp, typeof(TProcessor));
            return new PostProcessingPipeline<TResult>(
                scheduler,
                new FirstStep<TResult>(source),
                PostProcessingSettings.Resolve(sp.GetRequiredService<IOptionsMonitor<PostProcessingOptions>>().Get(name), scheduler.MaxConcurrency, name),
                sp.GetRequiredService<IServiceScopeFactory>());
        });
        return builder;
    }

    /// <summary>
    /// Registers <typeparamref name="TProcessor"/> as the next step after the pipeline producing
    /// <typeparamref name="TInput"/>, and the resulting <see cref="PostProcessingPipeline{TResult}"/>. It runs on the
    /// same worker right after the step before, within the same per-item scope, and has that pipeline's options.
    /// </summary>
    /// <typeparam name="TProcessor">The processor.</typeparam>
    /// <typeparam name="TInput">The result of the step before.</typeparam>
    /// <typeparam name="TResult">Its result; one pipeline per result type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="lifetime">The processor's lifetime. Default: transient (one per item).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">No pipeline produces <typeparamref name="TInput"/>, or one producing <typeparamref name="TResult"/> is registered already.</exception>
    public static IProxySchedulerBuilder AddPostProcessor<TProcessor, TInput, TResult>(this IProxySchedulerBuilder builder, ServiceLifetime lifetime = ServiceLifetime.Transient)
        where TProcessor : class, IParallelPostProcessor<TInput, TResult>
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(static d => d.ServiceType == typeof(PostProcessingPipeline<TInput>)))
        {
            throw new InvalidOperationException(
                $"{NameOf(typeof(TProcessor))} takes {NameOf(typeof(TInput))}, but no post-processing pipeline produces it: register the step before first, with AddPostProcessor<..., {NameOf(typeof(TInput))}>().");
        }

        ThrowIfRegistered<TResult>(services, typeof(TProcessor));
        services.TryAdd(ServiceDescriptor.Describe(typeof(TProcessor), typeof(TProcessor), lifetime));
        var perItem = LifetimeOf(services, typeof(TProcessor)) != ServiceLifetime.Singleton;
        services.AddSingleton(sp => sp.GetRequiredService<PostProcessingPipeline<TInput>>().Then(perItem
            ? ProcessorSource<IParallelPostProcessor<TInput, TResult>>.Scoped(typeof(TProcessor))
            : ProcessorSource<IParallelPostProcessor<TInput, TResult>>.Singleton(sp, typeof(TProcessor))));
        return builder;
    }

    private static void ThrowIfRegistered<TResult>(IServiceCollection services, Type processor)
    {
        if (services.Any(static d => d.ServiceType == typeof(PostProcessingPipeline<TResult>)))
        {
            throw new InvalidOperationException(
                $"A post-processing pipeline producing {NameOf(typeof(TResult))} is registered already, so {NameOf(processor)} cannot start another: one pipeline per result type (wrap the result in a type of its own).");
        }
    }

    /// <summary>A type's name as C# writes it: <c>IReadOnlyList&lt;Product&gt;</c>, not <c>IReadOnlyList`1</c>.</summary>
    private static string NameOf(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(NameOf))}>"
        : type.Name;

    private static ServiceLifetime LifetimeOf(IServiceCollection services, Type type) =>
        services.Last(d => d.ServiceType == type).Lifetime;
}
#pragma warning restore RS0026
