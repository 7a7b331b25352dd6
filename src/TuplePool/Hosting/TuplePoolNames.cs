using Microsoft.Extensions.DependencyInjection;

namespace TuplePool.Hosting;

/// <summary>
/// The names of the pools registered in one service collection, so the default pool's section can
/// tell a named pool's subsection (<c>TuplePool:replicas</c>) from a misspelt setting. Filled while
/// services are registered and read at validation, after the container is built.
/// </summary>
internal sealed class TuplePoolNames
{
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The collection's instance, registered on first use.</summary>
    public static TuplePoolNames Of(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(TuplePoolNames) && !descriptor.IsKeyedService && descriptor.ImplementationInstance is TuplePoolNames names)
            {
                return names;
            }
        }

        var created = new TuplePoolNames();
        services.AddSingleton(created);
        return created;
    }

    public void Add(string name) => _names.Add(name);
}
