using System.Net.Http;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace TuplePool.Http;

/// <summary>
/// The innermost handler of a client set up with <c>UseTuplePool()</c>, next to its
/// <see cref="SocketsHttpHandler"/>: a request that fails with the pool's refusal received it, so
/// the refusal is marked received (<see cref="TupleBudgetExhaustedException.MarkReceived"/>) and
/// the pool counts it among the refusals callers got, not the background ones. Innermost, so it
/// sees every attempt a retry handler outside it makes.
/// </summary>
internal sealed class RefusalReceiptHandler : DelegatingHandler
{
    // HttpRequestException -> TupleBudgetExhaustedException, maybe behind an aggregate or two.
    private const int MaxDepth = 8;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            MarkReceived(e, MaxDepth);
            throw;
        }
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return base.Send(request, cancellationToken);
        }
        catch (Exception e)
        {
            MarkReceived(e, MaxDepth);
            throw;
        }
    }

    /// <summary>Marks every refusal in <paramref name="error"/>'s inner exceptions, aggregates included.</summary>
    internal static void MarkReceived(Exception? error, int depth)
    {
        if (error is null || depth == 0)
        {
            return;
        }

        if (error is TupleBudgetExhaustedException refusal)
        {
            refusal.MarkReceived();
            return;
        }

        if (error is AggregateException aggregate)
        {
            foreach (var inner in aggregate.InnerExceptions)
            {
                MarkReceived(inner, depth - 1);
            }

            return;
        }

        MarkReceived(error.InnerException, depth - 1);
    }
}

/// <summary>Adds <see cref="RefusalReceiptHandler"/> last (innermost) to every client that called <c>UseTuplePool()</c>.</summary>
internal sealed class RefusalReceiptFilter(IOptionsMonitor<PoolClientMarker> markers) : IHttpMessageHandlerBuilderFilter
{
    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return builder =>
        {
            next(builder);
            if (markers.Get(builder.Name).UsesTuplePool)
            {
                builder.AdditionalHandlers.Add(new RefusalReceiptHandler());
            }
        };
    }
}
