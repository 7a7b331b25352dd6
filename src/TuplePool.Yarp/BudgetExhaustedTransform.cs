using System.Globalization;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace TuplePool.Yarp;

/// <summary>
/// Turns YARP's 502 for a request the pool refused (no port free to the destination within
/// <see cref="TuplePoolOptions.AcquireTimeout"/>) into 503 Service Unavailable with <c>Retry-After</c>:
/// the destination is fine, this proxy is out of ports to it for a while, and a client may come
/// back. YARP runs response transforms after a failed forward too, with no destination response
/// and the failure in <see cref="IForwarderErrorFeature"/>; a response that has started is left alone.
/// </summary>
internal sealed class BudgetExhaustedTransform(RetryAfterPolicy retryAfter) : ResponseTransform
{
    // Deep enough for HttpRequestException -> TupleBudgetExhaustedException behind an
    // AggregateException or two (YARP wraps request body failures); a chain is never longer.
    private const int MaxDepth = 8;

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.HttpContext;
        if (context.ProxyResponse is null
            && !http.Response.HasStarted
            && Find(http.Features.Get<IForwarderErrorFeature>()?.Exception, MaxDepth) is { } refusal)
        {
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = retryAfter.SecondsFor(refusal).ToString(CultureInfo.InvariantCulture);
        }

        return default;
    }

    /// <summary>The refusal anywhere in <paramref name="exception"/>'s inner exceptions, aggregates included.</summary>
    internal static TupleBudgetExhaustedException? Find(Exception? exception, int depth)
    {
        if (exception is null || depth == 0)
        {
            return null;
        }

        if (exception is TupleBudgetExhaustedException refusal)
        {
            return refusal;
        }

        if (exception is AggregateException aggregate)
        {
            foreach (var inner in aggregate.InnerExceptions)
            {
                if (Find(inner, depth - 1) is { } found)
                {
                    return found;
                }
            }

            return null;
        }

        return Find(exception.InnerException, depth - 1);
    }
}
