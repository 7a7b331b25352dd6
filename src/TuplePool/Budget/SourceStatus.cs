using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using TuplePool.Serialization;

namespace TuplePool;

/// <summary>One configured source address (<see cref="TuplePoolOptions.SourceAddresses"/>) and whether the pool may connect from it now.</summary>
public sealed class SourceStatus
{
    /// <summary>Creates a status record.</summary>
    /// <param name="address">The source address.</param>
    /// <param name="quarantinedUntil">When its quarantine ends, on the pool's <see cref="TimeProvider"/> (UTC); null when it is not quarantined.</param>
    public SourceStatus(IPAddress address, DateTimeOffset? quarantinedUntil)
    {
        ArgumentNullException.ThrowIfNull(address);
        Address = address;
        QuarantinedUntil = quarantinedUntil;
    }

    /// <summary>The source address.</summary>
    [JsonConverter(typeof(IPAddressJsonConverter))]
    public IPAddress Address { get; }

    /// <summary>
    /// True while the source is quarantined: binding to it failed, so it opens no connection and its
    /// tuples show no free port until <see cref="QuarantinedUntil"/> (<see cref="TuplePoolOptions.SourceQuarantine"/> after the failure).
    /// </summary>
    public bool IsQuarantined => QuarantinedUntil is not null;

    /// <summary>When the quarantine ends, on the pool's <see cref="TimeProvider"/> (UTC); null when the source is in use.</summary>
    public DateTimeOffset? QuarantinedUntil { get; }

    /// <inheritdoc />
    public override string ToString()
        => QuarantinedUntil is { } until
            ? string.Create(CultureInfo.InvariantCulture, $"{Address}: quarantined until {until:O}")
            : $"{Address}: in use";
}
