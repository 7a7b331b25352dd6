using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TuplePool.Benchmarks.Gateway;

/// <summary>One wrk run and what its report says: requests/s, the latency percentiles, the errors.</summary>
internal sealed partial record WrkRun(double RequestsPerSecond, double P50Micros, double P99Micros, long Requests, long SocketErrors, long Non2xx)
{
    /// <summary>Runs <c>wrk --latency</c> against <paramref name="url"/>; throws with wrk's output when it fails or prints no report.</summary>
    public static async Task<WrkRun> RunAsync(GatewayOptions options, string url, bool closeEachRequest, TimeSpan duration, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(options.Wrk)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-t", options.Threads.ToString(CultureInfo.InvariantCulture), "-c", options.Connections.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("-d");
        start.ArgumentList.Add(((int)Math.Ceiling(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture) + "s");
        start.ArgumentList.Add("--latency");
        if (closeEachRequest)
        {
            start.ArgumentList.Add("-H");
            start.ArgumentList.Add("Connection: close");
        }

        start.ArgumentList.Add(url);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.Wrk}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(duration + TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw;
            }
        }

        var text = await output;
        if (process.ExitCode != 0 || !TryParse(text, out var run))
        {
            throw new InvalidOperationException($"wrk exited with {process.ExitCode} and no report:\n{text}{await errors}");
        }

        return run;
    }

    /// <summary>Reads wrk's report (with <c>--latency</c>).</summary>
    public static bool TryParse(string report, out WrkRun run)
    {
        run = null!;
        var rate = RatePattern().Match(report);
        var p50 = Percentile(report, "50");
        var p99 = Percentile(report, "99");
        var requests = RequestsPattern().Match(report);
        if (!rate.Success || p50 is null || p99 is null || !requests.Success)
        {
            return false;
        }

        var socket = SocketErrorsPattern().Match(report);
        var socketErrors = socket.Success ? Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value, CultureInfo.InvariantCulture)) : 0;
        var non2xx = Non2xxPattern().Match(report);
        run = new WrkRun(
            double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            p50.Value,
            p99.Value,
            long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            socketErrors,
            non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0);
        return true;
    }

    private static double? Percentile(string report, string percent)
    {
        foreach (Match line in PercentilePattern().Matches(report))
        {
            if (line.Groups[1].Value == percent)
            {
                var value = double.Parse(line.Groups[2].Value, CultureInfo.InvariantCulture);
                return line.Groups[3].Value switch
                {
                    "us" => value,
                    "ms" => value * 1_000,
                    "s" => value * 1_000_000,
                    "m" => value * 60_000_000,
                    _ => null,
                };
            }
        }

        return null;
    }

    [GeneratedRegex(@"^Requests/sec:\s+([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex RatePattern();

    // "     50%  635.91us" under "Latency Distribution".
    [GeneratedRegex(@"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex PercentilePattern();

    [GeneratedRegex(@"^\s*([0-9]+) requests in", RegexOptions.Multiline)]
    private static partial Regex RequestsPattern();

    [GeneratedRegex(@"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)")]
    private static partial Regex SocketErrorsPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses: ([0-9]+)")]
    private static partial Regex Non2xxPattern();
}
