using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// The addresses one destination connects to: the address itself for an <see cref="IPEndPoint"/>;
/// for a <see cref="DnsEndPoint"/>, a DNS lookup reused for <see cref="TuplePoolOptions.DnsRefreshInterval"/>.
/// Only the slow path (a new connection) asks; an idle hit never waits for DNS. When a refresh
/// fails the previous answer is kept and the failure logged.
/// </summary>
internal sealed class AddressResolver
{
    private readonly DnsEndPoint? _name;
    private readonly Func<AddressFamily, bool> _hasSourceFor;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _refreshInterval;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lookup = new(1, 1);
    private volatile IPEndPoint[] _current;
    private long _resolvedAt;

    public AddressResolver(EndPoint destination, Func<AddressFamily, bool> hasSourceFor, TimeProvider timeProvider, TimeSpan refreshInterval, ILogger logger)
    {
        _hasSourceFor = hasSourceFor;
        _timeProvider = timeProvider;
        _refreshInterval = refreshInterval;
        _logger = logger;
        switch (destination)
        {
            case IPEndPoint ip:
                _current = [ip];
                break;
            case DnsEndPoint name:
                _name = name;
                _current = [];
                break;
            default:
                throw new ArgumentException($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination));
        }
    }

    /// <summary>The last known addresses (empty before the first lookup of a name).</summary>
    public IReadOnlyList<IPEndPoint> Current => _current;

    public bool MayUse(IPEndPoint address) => Array.IndexOf(_current, address) >= 0;

    public async ValueTask<IReadOnlyList<IPEndPoint>> ResolveAsync(CancellationToken cancellationToken)
    {
        if (_name is null || !IsStale())
        {
            return _current;
        }

        await _lookup.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!IsStale())
            {
                return _current;
            }

            IPAddress[] found;
            try
            {
                found = await Dns.GetHostAddressesAsync(_name.Host, _name.AddressFamily, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e) when (_current.Length > 0)
            {
                Log.DnsStale(_logger, _name.Host, e.SocketErrorCode.ToString(), _current.Length);
                Volatile.Write(ref _resolvedAt, _timeProvider.GetTimestamp());
                return _current;
            }

            var usable = found
                .Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)
                .Distinct()
                .Where(a => _hasSourceFor(a.AddressFamily))
                .Select(a => new IPEndPoint(a, _name.Port))
                .ToArray();
            if (usable.Length == 0)
            {
                throw new SocketException(
                    (int)SocketError.HostNotFound,
                    found.Length == 0
                        ? $"DNS returned no address for {_name.Host}."
                        : $"{_name.Host} resolves only to addresses of a family no configured source address has ({string.Join(", ", found.Select(a => a.ToString()))}).");
            }

            _current = usable;
            Volatile.Write(ref _resolvedAt, _timeProvider.GetTimestamp());
            return usable;
        }
        finally
        {
            _lookup.Release();
        }
    }

    private bool IsStale()
    {
        var at = Volatile.Read(ref _resolvedAt);
        return at == 0 || _current.Length == 0 || _timeProvider.GetElapsedTime(at) >= _refreshInterval;
    }
}
