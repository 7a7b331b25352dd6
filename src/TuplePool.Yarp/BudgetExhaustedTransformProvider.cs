using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace TuplePool.Yarp;

/// <summary>
/// Adds <see cref="BudgetExhaustedTransform"/> to every route, unless the route's metadata
/// <see cref="TuplePoolProxyMetadata.Respond503"/> is <c>"false"</c>; a value that is not a
/// boolean is a configuration error of that route.
/// </summary>
internal sealed class BudgetExhaustedTransformProvider(BudgetExhaustedTransform transform) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!TryRead(context.Route, out _, out var written))
        {
            context.Errors.Add(new ArgumentException(
                $"Route '{context.Route.RouteId}': metadata '{TuplePoolProxyMetadata.Respond503}' is '{written}'; it must be 'true' or 'false'."));
        }
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (TryRead(context.Route, out var respond503, out _) && respond503)
        {
            context.ResponseTransforms.Add(transform);
        }
    }

    /// <summary>The route's choice (true when the key is absent); false when the value is not a boolean.</summary>
    private static bool TryRead(RouteConfig route, out bool respond503, out string? written)
    {
        respond503 = true;
        written = null;
        return route.Metadata is null
            || !route.Metadata.TryGetValue(TuplePoolProxyMetadata.Respond503, out written)
            || bool.TryParse(written, out respond503);
    }
}
