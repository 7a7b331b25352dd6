using System.Collections.Frozen;
using System.Net.Sockets;
using System.Text;

namespace TuplePool.Telemetry;

/// <summary>
/// The <c>error.type</c> values the pool's instruments carry: low-cardinality, snake_case names
/// for the failures the pool knows, the exception's full type name for anything else (as the
/// OpenTelemetry conventions ask). Listed in the README's Telemetry section.
/// </summary>
internal static class ErrorTypes
{
    /// <summary>An acquire waited <see cref="TuplePoolOptions.AcquireTimeout"/> and no room freed.</summary>
    public const string Timeout = "timeout";

    /// <summary>An acquire was refused without waiting out its timeout (no room and no wait possible, <see cref="TuplePoolOptions.MaxPendingAcquires"/> reached).</summary>
    public const string BudgetExhausted = "budget_exhausted";

    /// <summary>The caller's cancellation token fired.</summary>
    public const string Canceled = "canceled";

    /// <summary>The caller's token (often its own timeout) ended a wait for room: a wait for budget, not a plain cancel.</summary>
    public const string BudgetWaitCanceled = "budget_wait_canceled";

    /// <summary>The pool was disposed while the acquire ran.</summary>
    public const string PoolDisposed = "pool_disposed";

    /// <summary>A connect attempt's source address could not be bound.</summary>
    public const string BindFailed = "bind_failed";

    private static readonly FrozenDictionary<SocketError, string> s_socketErrors =
        Enum.GetValues<SocketError>().Distinct().ToFrozenDictionary(static code => code, static code => SnakeCase(code.ToString()));

    /// <summary>
    /// The <c>error.type</c> of a failed acquire: <see cref="Timeout"/> when a
    /// <see cref="TupleBudgetExhaustedException"/> came after waiting at least
    /// <paramref name="acquireTimeout"/>, else <see cref="Of(Exception)"/>.
    /// </summary>
    public static string ForAcquire(Exception error, TimeSpan elapsed, TimeSpan acquireTimeout)
        => error is TupleBudgetExhaustedException && acquireTimeout != System.Threading.Timeout.InfiniteTimeSpan && elapsed >= acquireTimeout
            ? Timeout
            : Of(error);

    /// <summary>
    /// <see cref="BudgetExhausted"/>, <see cref="BudgetWaitCanceled"/>, <see cref="Canceled"/>, <see cref="PoolDisposed"/>, a
    /// <see cref="SocketException"/>'s error code in snake_case (<c>connection_refused</c>,
    /// <c>timed_out</c>, <c>address_not_available</c>, …), or the exception's full type name.
    /// </summary>
    public static string Of(Exception error) => error switch
    {
        TupleBudgetExhaustedException => BudgetExhausted,
        SocketException socket => Of(socket.SocketErrorCode),
        OperationCanceledException { InnerException: TupleBudgetExhaustedException } => BudgetWaitCanceled,
        OperationCanceledException => Canceled,
        ObjectDisposedException => PoolDisposed,
        _ => error.GetType().FullName ?? error.GetType().Name,
    };

    /// <summary>The code's name in snake_case: <c>ConnectionRefused</c> → <c>connection_refused</c>.</summary>
    public static string Of(SocketError code)
        => s_socketErrors.TryGetValue(code, out var name) ? name : SnakeCase(code.ToString());

    /// <summary><c>ConnectionRefused</c> → <c>connection_refused</c>, <c>IOPending</c> → <c>io_pending</c>.</summary>
    private static string SnakeCase(string name)
    {
        var text = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0 && (!char.IsUpper(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))))
            {
                text.Append('_');
            }

            text.Append(char.ToLowerInvariant(c));
        }

        return text.ToString();
    }
}
