using System.Net;

namespace TuplePool.Budget;

/// <summary>
/// (source IP, destination IP, destination port): the key the kernel's ephemeral-port search
/// works on when the port is chosen at connect time. Each one owns the whole port range.
/// A source of <see cref="IPAddress.Any"/> / <see cref="IPAddress.IPv6Any"/> means "the kernel chooses".
/// </summary>
internal readonly struct ConnectionTuple : IEquatable<ConnectionTuple>
{
    public ConnectionTuple(IPAddress source, IPEndPoint destination)
    {
        Source = source;
        Destination = destination;
    }

    public IPAddress Source { get; }

    public IPEndPoint Destination { get; }

    public bool Equals(ConnectionTuple other)
        => Source.Equals(other.Source) && Destination.Equals(other.Destination);

    public override bool Equals(object? obj) => obj is ConnectionTuple other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Source, Destination);

    public override string ToString() => $"{Source} -> {Destination}";

    public static bool operator ==(ConnectionTuple left, ConnectionTuple right) => left.Equals(right);

    public static bool operator !=(ConnectionTuple left, ConnectionTuple right) => !left.Equals(right);
}
