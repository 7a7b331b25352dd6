using System.Globalization;
using System.Net.Sockets;

namespace TuplePool.Demo.Scenarios;

/// <summary>Number formatting for progress lines and the table (invariant culture, thousands separators).</summary>
internal static class Format
{
    public static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s";

    public static string Micros(double value) => value.ToString(value < 100 ? "F1" : "N0", CultureInfo.InvariantCulture) + " µs";

    public static string Ratio(double value) => value.ToString(value < 10 ? "F1" : "N0", CultureInfo.InvariantCulture) + "x";

    /// <summary>"12x faster" or "1.5x slower": the pool's time against plain's, for times (smaller is better).</summary>
    public static string Speed(double plainTime, double poolTime) =>
        plainTime <= 0 || poolTime <= 0 ? string.Empty
        : plainTime >= poolTime ? Ratio(plainTime / poolTime) + " faster"
        : Ratio(poolTime / plainTime) + " slower";

    /// <summary>"3,000 EADDRNOTAVAIL, 2 ECONNREFUSED" from counts per error.</summary>
    public static string Errors(IReadOnlyDictionary<string, int> errors) =>
        errors.Count == 0 ? "0" : string.Join(", ", errors.OrderByDescending(e => e.Value).Select(e => $"{N(e.Value)} {e.Key}"));

    /// <summary>The Linux name of a socket error, as a user would search for it.</summary>
    public static string ErrorName(Exception e) => e switch
    {
        TupleBudgetExhaustedException => "TupleBudgetExhausted",
        SocketException { SocketErrorCode: SocketError.AddressNotAvailable } => "EADDRNOTAVAIL",
        SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } => "EADDRINUSE",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "ECONNREFUSED",
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => "ECONNRESET",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "ETIMEDOUT",
        SocketException { SocketErrorCode: SocketError.TooManyOpenSockets } => "EMFILE",
        SocketException s => s.SocketErrorCode.ToString(),
        _ => e.GetType().Name,
    };
}
