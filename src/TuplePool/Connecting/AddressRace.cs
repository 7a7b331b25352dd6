using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TuplePool.Platform;

namespace TuplePool.Connecting;

/// <summary>
/// A destination with several addresses: every address is tried, in order, until one connects,
/// as <c>SocketsHttpHandler</c> does; when both families are present the attempts follow Happy
/// Eyeballs v2 (RFC 8305): families interleaved, IPv6 first, the next attempt started after the
/// Connection Attempt Delay or as soon as the one before it fails, the first to connect wins and
/// the rest are cancelled. Each attempt is a tuple of its own, reserved and released in the
/// ledger by <see cref="ConnectionOpener.ConnectAddressAsync"/>; a cancelled attempt closes its
/// socket abortively and releases its reservation before the race returns. What each address did
/// is remembered for a while (<see cref="AddressHistory"/>), so the next race of any destination
/// with that address starts with one that works.
/// </summary>
/// <remarks>
/// Only destinations with more than one address come here, so the lists, tasks and timers below
/// cost nothing on the single-address path.
/// </remarks>
internal sealed class AddressRace
{
    private readonly ConnectionOpener _opener;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _delay;
    private readonly AddressHistory _history;

    public AddressRace(ConnectionOpener opener, TimeProvider timeProvider, TimeSpan happyEyeballsDelay)
    {
        _opener = opener;
        _timeProvider = timeProvider;
        _delay = happyEyeballsDelay;
        _history = new AddressHistory(timeProvider);
    }

    /// <summary>The addresses that failed or stayed silent lately.</summary>
    internal AddressHistory History => _history;

    /// <summary>
    /// The first connection any address gives; null when no address had a free port (the caller
    /// waits for room); otherwise one <see cref="SocketException"/> that names every address and
    /// why it failed.
    /// </summary>
    public async ValueTask<OpenedConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, ConnectLimits limits, OpenScope? scope, CancellationToken cancellationToken)
    {
        var order = Order(addresses, _history, _timeProvider.GetTimestamp(), out var bothFamilies);
        var outcome = new Outcome(order.Length);
        if (bothFamilies && _delay != Timeout.InfiniteTimeSpan)
        {
            if (await StaggerAsync(order, limits, scope, outcome, cancellationToken).ConfigureAwait(false) is { } won)
            {
                return won;
            }
        }
        else
        {
            foreach (var address in order)
            {
                if (_opener.IsPast(limits))
                {
                    outcome.NotTried(address);
                    continue;
                }

                try
                {
                    if (await _opener.ConnectAddressAsync(address, limits, scope, cancellationToken).ConfigureAwait(false) is { } opened)
                    {
                        _history.Worked(address);
                        return opened;
                    }

                    outcome.NoRoom(address);
                }
                catch (SocketException e)
                {
                    _history.Failed(address);
                    outcome.Failed(address, e);
                }
            }
        }

        return outcome.Finish(limits, _opener.Options);
    }

    /// <summary>
    /// RFC 8305 §4: interleave the families, starting with IPv6, keeping the resolver's order
    /// within each family. A list of one family keeps its order as it is.
    /// </summary>
    internal static IPEndPoint[] Order(IReadOnlyList<IPEndPoint> addresses, out bool bothFamilies)
        => Order(addresses, history: null, now: 0, out bothFamilies);

    /// <summary>
    /// RFC 8305 §4, with history: the addresses <paramref name="history"/> remembers as failed or
    /// silent go last (RFC 6724 rule 1, "avoid unusable destinations"); the others come first,
    /// families interleaved starting with IPv6 when it has an address left there (else IPv4), each
    /// family in the resolver's order. So a name whose IPv6 address never answers starts with its
    /// IPv4 address, and the IPv6 one is still tried after it.
    /// </summary>
    internal static IPEndPoint[] Order(IReadOnlyList<IPEndPoint> addresses, AddressHistory? history, long now, out bool bothFamilies)
    {
        var v6 = new List<IPEndPoint>(addresses.Count);
        var v4 = new List<IPEndPoint>(addresses.Count);
        var remembered6 = new List<IPEndPoint>();
        var remembered4 = new List<IPEndPoint>();
        foreach (var address in addresses)
        {
            var isV6 = address.AddressFamily == AddressFamily.InterNetworkV6;
            var list = history is not null && history.IsRemembered(address, now)
                ? (isV6 ? remembered6 : remembered4)
                : (isV6 ? v6 : v4);
            list.Add(address);
        }

        bothFamilies = v6.Count + remembered6.Count > 0 && v4.Count + remembered4.Count > 0;
        var order = new IPEndPoint[addresses.Count];
        var n = Interleave(v6, v4, order, 0);
        n = Interleave(remembered6, remembered4, order, n);
        Debug.Assert(n == order.Length, "Every address is placed once.");
        return order;
    }

    /// <summary>IPv6 and IPv4 taken in turn, IPv6 first, into <paramref name="order"/> from <paramref name="n"/>; returns the next free place.</summary>
    private static int Interleave(List<IPEndPoint> v6, List<IPEndPoint> v4, IPEndPoint[] order, int n)
    {
        int i6 = 0, i4 = 0;
        while (i6 < v6.Count || i4 < v4.Count)
        {
            if (i6 < v6.Count)
            {
                order[n++] = v6[i6++];
            }

            if (i4 < v4.Count)
            {
                order[n++] = v4[i4++];
            }
        }

        return n;
    }

    private async ValueTask<OpenedConnection?> StaggerAsync(IPEndPoint[] order, ConnectLimits limits, OpenScope? scope, Outcome outcome, CancellationToken cancellationToken)
    {
        using var race = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<(Task<OpenedConnection?> Task, IPEndPoint Address, long Started)>(order.Length);
        var waitFor = new List<Task>(order.Length + 1);
        CancellationTokenSource? delayStop = null;
        Task? delay = null;
        var next = 0;
        var won = false;
        try
        {
            StartNext();
            while (running.Count > 0)
            {
                if (delay is null && next < order.Length)
                {
                    delayStop = CancellationTokenSource.CreateLinkedTokenSource(race.Token);
                    delay = Task.Delay(_delay, _timeProvider, delayStop.Token);
                }

                waitFor.Clear();
                foreach (var attempt in running)
                {
                    waitFor.Add(attempt.Task);
                }

                if (delay is not null)
                {
                    waitFor.Add(delay);
                }

                var done = await Task.WhenAny(waitFor).ConfigureAwait(false);
                if (ReferenceEquals(done, delay))
                {
                    // Connection Attempt Delay passed with no answer: the next address joins in.
                    StopDelay();
                    cancellationToken.ThrowIfCancellationRequested();
                    StartNext();
                    continue;
                }

                var index = running.FindIndex(r => ReferenceEquals(r.Task, done));
                var address = running[index].Address;
                running.RemoveAt(index);
                try
                {
                    if (await ((Task<OpenedConnection?>)done).ConfigureAwait(false) is { } opened)
                    {
                        _history.Worked(address);
                        won = true;
                        return opened;
                    }

                    outcome.NoRoom(address);
                }
                catch (SocketException e)
                {
                    _history.Failed(address);
                    outcome.Failed(address, e);
                }

                // A failed attempt starts the next one at once, and the delay counts from there.
                StopDelay();
                StartNext();
            }

            return null;
        }
        finally
        {
            StopDelay();
            if (running.Count > 0)
            {
                if (won)
                {
                    // Still silent a whole Connection Attempt Delay after it started, while another
                    // address connected: the next race starts with the one that won. An attempt
                    // started later than that had no fair chance, so it is not held against its address.
                    var now = _timeProvider.GetTimestamp();
                    foreach (var (_, address, started) in running)
                    {
                        if (_timeProvider.GetElapsedTime(started, now) >= _delay)
                        {
                            _history.Failed(address);
                        }
                    }
                }

                // The winner is in, or the caller gave up: cancel the rest and wait for each to
                // close its socket and release its tuple, so nothing is left charged on return.
                await race.CancelAsync().ConfigureAwait(false);
                foreach (var (task, _, _) in running)
                {
                    await CloseLoserAsync(task).ConfigureAwait(false);
                }
            }
        }

        void StartNext()
        {
            while (next < order.Length)
            {
                var address = order[next++];
                if (_opener.IsPast(limits))
                {
                    outcome.NotTried(address);
                    continue;
                }

                running.Add((_opener.ConnectAddressAsync(address, limits, scope, race.Token).AsTask(), address, _timeProvider.GetTimestamp()));
                return;
            }
        }

        void StopDelay()
        {
            if (delayStop is not null)
            {
                delayStop.Cancel();
                delayStop.Dispose();
                delayStop = null;
            }

            delay = null;
        }
    }

    private static async Task CloseLoserAsync(Task<OpenedConnection?> task)
    {
        try
        {
            // Connected just as it was cancelled: not needed. Disposing it resets the socket (RST
            // leaves no TIME_WAIT) and frees its charge at once.
            (await task.ConfigureAwait(false))?.Dispose();
        }
#pragma warning disable CA1031 // A cancelled loser's error is expected; it released its tuple itself.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>What each address did, for the one error that names them all.</summary>
    private sealed class Outcome(int count)
    {
        private readonly List<string> _reasons = new(count);
        private SocketError _lastError = SocketError.SocketError;
        private int _failed;
        private int _notTried;

        public void Failed(IPEndPoint address, SocketException error)
        {
            _failed++;
            _lastError = error.SocketErrorCode;
            _reasons.Add($"{Show(address)}: {error.Message}");
        }

        public void NoRoom(IPEndPoint address) => _reasons.Add($"{Show(address)}: no free port on any source (the pool's budget for it is used up)");

        public void NotTried(IPEndPoint address)
        {
            _notTried++;
            _reasons.Add($"{Show(address)}: not tried");
        }

        /// <summary>
        /// Null when no address failed on its own account (each had no free port): the caller
        /// waits for room. Any real failure throws — waiting would only retry the failing address
        /// the moment room looks free on it.
        /// </summary>
        public OpenedConnection? Finish(ConnectLimits limits, TuplePoolOptions options)
        {
            if (_failed == 0 && _notTried == 0)
            {
                return null;
            }

            var code = _notTried > 0 ? SocketError.TimedOut : _lastError;
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"Could not connect to any of {_reasons.Count} addresses");
            if (_notTried > 0)
            {
                var within = limits.DeadlineSetBy == ConnectLimit.TotalConnectTimeout
                    ? string.Create(CultureInfo.InvariantCulture, $" within {options.TotalConnectTimeout.TotalSeconds:0.###} s")
                    : string.Empty;
                text.Append(CultureInfo.InvariantCulture, $"{within} ({ConnectLimits.Describe(limits.DeadlineSetBy)})");
            }

            text.Append(": ").AppendJoin("; ", _reasons).Append('.');
            throw ConnectionOpener.NewSocketException(code, text.ToString());
        }

        private static string Show(IPEndPoint address) => address.ToString();
    }
}
