using System.Diagnostics;
using TuplePool.Demo.Pictures;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Samples one side of the churn scenario every <see cref="Interval"/> while it runs: requests done
/// in the interval (as a rate) and client ports in TIME_WAIT, for the churn picture. Reading
/// /proc/net/tcp costs both sides alike, a few hundred µs per sample with the range's ports in it.
/// </summary>
internal sealed class ChurnSampler : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly Func<int> _done;
    private readonly Func<int?> _timeWait;
    private readonly List<ChurnPoint> _points = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>Starts sampling: <paramref name="done"/> reads the requests done so far, <paramref name="timeWait"/> the TIME_WAIT count.</summary>
    public ChurnSampler(Func<int> done, Func<int?> timeWait)
    {
        _done = done;
        _timeWait = timeWait;
        // At the start there is a count but no rate yet.
        _points.Add(new ChurnPoint(0, timeWait(), double.NaN));
        _loop = RunAsync();
    }

    /// <summary>The samples so far; complete once disposed.</summary>
    public IReadOnlyList<ChurnPoint> Points => _points;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(Interval);
        var lastDone = 0;
        var lastTime = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                Sample();
            }
        }
        catch (OperationCanceledException)
        {
        }

        // The part interval at the end, so the last requests are in the picture too.
        if (clock.Elapsed - lastTime > Interval / 4)
        {
            Sample();
        }

        void Sample()
        {
            var now = clock.Elapsed;
            var done = _done();
            _points.Add(new ChurnPoint(now.TotalSeconds, _timeWait(), (done - lastDone) / (now - lastTime).TotalSeconds));
            lastDone = done;
            lastTime = now;
        }
    }
}
