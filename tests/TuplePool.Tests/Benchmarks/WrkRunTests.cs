using TuplePool.Benchmarks.Gateway;

namespace TuplePool.Tests.Benchmarks;

/// <summary>The gateway comparison's reading of wrk's report (benchmarks/TuplePool.Benchmarks.Gateway).</summary>
public sealed class WrkRunTests
{
    // wrk 4.1 with --latency, as printed on this machine, with the error lines it adds when there are any.
    private const string Report = """
        Running 10s test @ http://127.0.0.1:21151/
          2 threads and 64 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency   302.72ms   50.05ms 388.52ms   66.67%
            Req/Sec    13.43      6.00    20.00     57.14%
          Latency Distribution
             50%  635.91us
             75%  712.32us
             90%  800.00us
             99%    1.26s
          212345 requests in 10.03s, 1.91MB read
          Socket errors: connect 1, read 12, write 0, timeout 3
          Non-2xx or 3xx responses: 5
        Requests/sec:  21171.63
        Transfer/sec:      1.85MB
        """;

    [Fact]
    public void TryParse_ReportWithLatencyAndErrors_ReadsRateMicrosecondsAndErrors()
    {
        Assert.True(WrkRun.TryParse(Report, out var run));

        Assert.Equal(21171.63, run.RequestsPerSecond, precision: 2);
        Assert.Equal(635.91, run.P50Micros, precision: 2);
        Assert.Equal(1_260_000, run.P99Micros, precision: 0);
        Assert.Equal(212345, run.Requests);
        Assert.Equal(16, run.SocketErrors);
        Assert.Equal(5, run.Non2xx);
    }

    [Fact]
    public void TryParse_Milliseconds_ConvertedToMicroseconds()
    {
        var report = Report.Replace("50%  635.91us", "50%   27.90ms", StringComparison.Ordinal);

        Assert.True(WrkRun.TryParse(report, out var run));

        Assert.Equal(27_900, run.P50Micros, precision: 3);
    }

    [Fact]
    public void TryParse_NoErrorLines_CountsNone()
    {
        var report = string.Join('\n', Report.Split('\n').Where(l => !l.Contains("errors", StringComparison.Ordinal) && !l.Contains("Non-2xx", StringComparison.Ordinal)));

        Assert.True(WrkRun.TryParse(report, out var run));

        Assert.Equal(0, run.SocketErrors);
        Assert.Equal(0, run.Non2xx);
    }

    [Fact]
    public void TryParse_WithoutLatencyDistribution_IsRefused()
    {
        // A run without --latency (or one that failed) has no percentiles: no figures, not zeros.
        var report = string.Join('\n', Report.Split('\n').Where(l => !l.Contains('%', StringComparison.Ordinal) || l.Contains("Stdev", StringComparison.Ordinal)));

        Assert.False(WrkRun.TryParse(report, out _));
    }
}
