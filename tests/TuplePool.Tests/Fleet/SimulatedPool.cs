using System.Net;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// The NAT side of a pool, without sockets, driving an <see cref="IFleetBudget"/> the way the
/// contract says the pool does: it reads <see cref="IFleetBudget.GetGrant"/> for every new
/// connection and never holds more, reports held and waiting on every change (under its own lock,
/// right after the change), keeps a closed connection's port for the NAT's hold time, and wakes its
/// waiters when the budget calls grantChanged or a port is released.
/// </summary>
internal sealed class SimulatedPool : IDisposable
{
    private readonly object _lock = new();
    private readonly IFleetBudget _budget;
    private readonly IPEndPoint _destination;
    private readonly TimeSpan _hold;
    private readonly IDisposable _registration;
    private readonly List<TaskCompletionSource> _signals = [];
    private int _open;
    private int _holding;
    private int _waiting;
    private bool _crashed;

    public SimulatedPool(IFleetBudget budget, NatOptions nat, IPEndPoint destination)
    {
        _budget = budget;
        _destination = destination;
        _hold = nat.HoldAfterClose;
        _registration = budget.Attach(nat, OnGrantChanged);
    }

    /// <summary>Ports the NAT holds for this pool: open connections and closed ones still in their hold.</summary>
    public int Held
    {
        get
        {
            lock (_lock)
            {
                return _open + _holding;
            }
        }
    }

    public int Open
    {
        get
        {
            lock (_lock)
            {
                return _open;
            }
        }
    }

    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiting;
            }
        }
    }

    /// <summary>What the budget grants now (0 after a crash: a dead instance promises nothing).</summary>
    public int Grant
    {
        get
        {
            lock (_lock)
            {
                return _crashed ? 0 : _budget.GetGrant(_destination);
            }
        }
    }

    /// <summary>Opens a connection if the grant has room now.</summary>
    public bool TryOpen()
    {
        lock (_lock)
        {
            return TryOpenLocked(waited: false);
        }
    }

    /// <summary>Opens a connection, waiting for room (a caller in the pool's wait line) up to <paramref name="timeout"/>.</summary>
    public async Task<bool> OpenAsync(TimeSpan timeout)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            if (TryOpenLocked(waited: false))
            {
                return true;
            }

            if (_crashed)
            {
                return false;
            }

            _waiting++;
            signal = NewSignalLocked();
            ReportLocked();
        }

        var deadline = TimeProvider.System.GetTimestamp() + (long)(timeout.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            var left = TimeSpan.FromSeconds((double)(deadline - TimeProvider.System.GetTimestamp()) / TimeProvider.System.TimestampFrequency);
            var woken = left > TimeSpan.Zero && await Task.WhenAny(signal.Task, Task.Delay(left)) == signal.Task;
            lock (_lock)
            {
                if (TryOpenLocked(waited: true))
                {
                    return true;
                }

                if (!woken || _crashed)
                {
                    _signals.Remove(signal);
                    _waiting--;
                    if (!_crashed)
                    {
                        ReportLocked();
                    }

                    return false;
                }

                signal = NewSignalLocked();
            }
        }
    }

    /// <summary>Closes one connection: its port stays held for the NAT's hold after close, then is free.</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_open == 0)
            {
                throw new InvalidOperationException("nothing open");
            }

            _open--;
            _holding++;
            ReportLocked();
        }

        _ = ReleaseAfterHoldAsync();
    }

    /// <summary>
    /// The process dies: its kernel closes every connection (the NAT holds each port for the hold
    /// after close), and it reports nothing any more; its budget is left as it was (no hand-back).
    /// </summary>
    public void Crash()
    {
        int closed;
        lock (_lock)
        {
            _crashed = true;
            closed = _open;
            _holding += _open;
            _open = 0;
            WakeLocked();
        }

        for (var i = 0; i < closed; i++)
        {
            _ = ReleaseAfterHoldAsync();
        }
    }

    public void Dispose() => _registration.Dispose();

    private bool TryOpenLocked(bool waited)
    {
        if (_crashed || _open + _holding >= _budget.GetGrant(_destination))
        {
            return false;
        }

        _open++;
        if (waited)
        {
            _waiting--;
        }

        ReportLocked();
        return true;
    }

    private async Task ReleaseAfterHoldAsync()
    {
        await Task.Delay(_hold);
        lock (_lock)
        {
            _holding--;
            if (!_crashed)
            {
                ReportLocked();
            }

            WakeLocked();
        }
    }

    private void OnGrantChanged(IPEndPoint destination)
    {
        if (destination.Equals(_destination))
        {
            lock (_lock)
            {
                WakeLocked();
            }
        }
    }

    private TaskCompletionSource NewSignalLocked()
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _signals.Add(signal);
        return signal;
    }

    private void WakeLocked()
    {
        foreach (var signal in _signals)
        {
            signal.TrySetResult();
        }

        _signals.Clear();
    }

    private void ReportLocked() => _budget.Report(_destination, _open + _holding, _waiting);
}
