using System.Net.Http;

namespace TuplePool.Yarp;

/// <summary>
/// Wraps each cluster's handler (<see cref="TuplePoolForwarderHttpClientFactory"/>): a forwarded
/// request that fails with the pool's refusal received it — its client is answered 503 (or 502 on a
/// route that opts out) — so the refusal is marked received
/// (<see cref="TupleBudgetExhaustedException.MarkReceived"/>) and the pool counts it among the
/// refusals callers got, not the background ones no request saw.
/// </summary>
internal sealed class RefusalReceiptHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    // Deep enough for HttpRequestException -> TupleBudgetExhaustedException behind an aggregate or two.
    private const int MaxDepth = 8;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            BudgetExhaustedTransform.Find(e, MaxDepth)?.MarkReceived();
            throw;
        }
    }
}
