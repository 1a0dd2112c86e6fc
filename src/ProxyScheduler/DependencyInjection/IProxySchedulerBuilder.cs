#pragma warning disable IDE0130 // Namespace does not match folder structure: DI entry points live in the DI namespace.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Configures the scheduler registered by <c>AddProxyScheduler</c>.</summary>
public interface IProxySchedulerBuilder
{
    /// <summary>Gets the service collection the scheduler is registered in.</summary>
    IServiceCollection Services { get; }
}
