using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TuplePool;

/// <summary>
/// No source address had a free port to the destination within
/// <see cref="TuplePoolOptions.AcquireTimeout"/>. TuplePool throws this instead of letting the
/// kernel fail a connect with <c>EADDRNOTAVAIL</c>; <see cref="SocketException.SocketErrorCode"/>
/// is <see cref="SocketError.AddressNotAvailable"/> so existing handlers keep working.
/// </summary>
public sealed class TupleBudgetExhaustedException : SocketException
{
    private readonly string _message;

    /// <summary>Creates the exception for <paramref name="destination"/> with the usage of each source.</summary>
    public TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage)
        : base((int)SocketError.AddressNotAvailable)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(usage);
        Destination = destination;
        Usage = usage;
        _message = BuildMessage(destination, usage);
    }

    /// <summary>The destination that had no room.</summary>
    public EndPoint Destination { get; }

    /// <summary>The usage of each (source, destination) tuple when the acquire gave up.</summary>
    public IReadOnlyList<TupleUsage> Usage { get; }

    /// <inheritdoc />
    public override string Message => _message;

    private static string BuildMessage(EndPoint destination, IReadOnlyList<TupleUsage> usage)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"No local port is free to {destination}: every source address has used its tuple budget");
        if (usage.Count == 0)
        {
            text.Append(" (no source address of the destination's address family is configured or healthy).");
        }
        else
        {
            text.Append(" (");
            for (var i = 0; i < usage.Count; i++)
            {
                if (i > 0)
                {
                    text.Append("; ");
                }

                var u = usage[i];
                text.Append(CultureInfo.InvariantCulture, $"{u.Source}: {u.Active} active, {u.Idle} idle, {u.TimeWait} TIME_WAIT of {u.Capacity}");
            }

            text.Append(").");
        }

        text.Append(" Add source addresses (TuplePoolOptions.SourceAddresses), widen the port range (LocalPortRange or net.ipv4.ip_local_port_range),")
            .Append(" or reuse connections instead of closing them (each graceful close holds its port in TIME_WAIT for 60 s).");
        return text.ToString();
    }
}
