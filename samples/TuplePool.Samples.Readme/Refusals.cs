using System.Net;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's refusal examples: reading the cause and the hint, and reporting a request's refusal with a bare handler.</summary>
public static class Refusals
{
    /// <summary>Acquires once; on a refusal returns what it says (null when the lease came).</summary>
    public static async Task<string?> ReadCauseAsync(ISocketPool pool, IPEndPoint backend, CancellationToken cancellationToken)
    {
        // <readme name="refusal-cause">
        try
        {
            await using var lease = await pool.AcquireAsync(backend, cancellationToken);
            // ... the exchange
        }
        catch (TupleBudgetExhaustedException refusal)
        {
            // Cause: what held the room; RetryAfter: when room may come by itself (null: only a close brings it).
            return $"{refusal.Cause}, retry after {refusal.RetryAfter?.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) ?? "a close"}";
        }
        // </readme>
        return null;
    }

    /// <summary>A GET through a bare handler that reports a refusal the request received.</summary>
    public static async Task<string> GetAsync(HttpClient client, Uri uri, CancellationToken cancellationToken)
    {
        // <readme name="refusal-received">
        try
        {
            return await client.GetStringAsync(uri, cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is TupleBudgetExhaustedException refusal)
        {
            refusal.MarkReceived();   // this request got it: a refusal a caller received, not a background one
            throw;
        }
        // </readme>
    }
}
