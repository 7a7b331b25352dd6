using ScottPlot;
using SkiaSharp;

namespace TuplePool.Demo.Pictures;

/// <summary>
/// Draws the demo's curves as PNG files with ScottPlot: connect time against open connections,
/// and TIME_WAIT and requests/s over time under churn, plain sockets against TuplePool.
/// </summary>
internal static class ChartWriter
{
    public const int Width = 960;
    public const int Height = 560;

    // One colour per side in every picture, so the two read alike.
    private static readonly Color s_plain = Color.FromHex("#d62728");
    private static readonly Color s_floor = Color.FromHex("#7f7f7f");
    private static readonly Color s_pool = Color.FromHex("#1f77b4");

    private static readonly object s_fontLock = new();
    private static bool s_fontChecked;

    /// <summary>Connect time (median µs) against open connections: plain, the floor and the pool.</summary>
    public static void WriteConnectCurve(IReadOnlyList<ConnectPoint> points, string path)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points.Count, 1, nameof(points));
        EnsureFont();
        var open = points.Select(p => (double)p.OpenConnections).ToArray();
        using var plot = new Plot();
        AddLine(plot, open, points.Select(p => p.PlainMicros).ToArray(), s_plain, "plain ConnectAsync");
        var floor = AddLine(plot, open, points.Select(p => p.FloorMicros).ToArray(), s_floor, "floor: ConnectAsync + IP_LOCAL_PORT_RANGE");
        floor.LinePattern = LinePattern.Dashed;
        AddLine(plot, open, points.Select(p => p.PoolMicros).ToArray(), s_pool, "TuplePool AcquireAsync");
        plot.Title("connect() time with connections already open to the same destination");
        plot.XLabel("plain connections open to the destination");
        plot.YLabel("median connect time (µs)");
        plot.Axes.SetLimitsY(0, points.Max(p => Math.Max(p.PlainMicros, Math.Max(p.FloorMicros, p.PoolMicros))) * 1.1);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>Two panels over time under churn: client ports in TIME_WAIT, and requests/s; plain against the pool.</summary>
    public static void WriteChurn(IReadOnlyList<ChurnPoint> plain, IReadOnlyList<ChurnPoint> pool, string path)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(plain.Count + pool.Count, 1, nameof(plain));
        EnsureFont();
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        var timeWait = multiplot.GetPlot(0);
        var rate = multiplot.GetPlot(1);
        foreach (var (points, color, name) in new[] { (plain, s_plain, "plain: a connection per request"), (pool, s_pool, "TuplePool: pooled leases") })
        {
            var known = points.Where(p => p.TimeWait is not null).ToArray();
            if (known.Length > 0)
            {
                AddLine(timeWait, known.Select(p => p.Seconds).ToArray(), known.Select(p => (double)p.TimeWait!.Value).ToArray(), color, name);
            }

            var rated = points.Where(p => double.IsFinite(p.RequestsPerSecond)).ToArray();
            if (rated.Length > 0)
            {
                AddLine(rate, rated.Select(p => p.Seconds).ToArray(), rated.Select(p => p.RequestsPerSecond).ToArray(), color, name);
            }
        }

        timeWait.Title("churn: client ports in TIME_WAIT");
        timeWait.YLabel("ports in TIME_WAIT");
        timeWait.Axes.SetLimitsY(0, Math.Max(10, plain.Concat(pool).Max(p => p.TimeWait ?? 0) * 1.15));
        timeWait.ShowLegend(Alignment.UpperLeft);
        rate.Title("churn: requests per second");
        rate.XLabel("seconds since the side started");
        rate.YLabel("requests/s");
        rate.Axes.SetLimitsY(0, Math.Max(10, plain.Concat(pool).Where(p => double.IsFinite(p.RequestsPerSecond)).Select(p => p.RequestsPerSecond).DefaultIfEmpty(0).Max() * 1.15));
        rate.ShowLegend(Alignment.UpperLeft);

        // One time axis for both panels, from 0 to the longer side's end.
        var end = plain.Concat(pool).Max(p => p.Seconds);
        timeWait.Axes.SetLimitsX(0, end);
        rate.Axes.SetLimitsX(0, end);
        multiplot.SavePng(path, Width, Height * 3 / 2);
        foreach (var panel in multiplot.GetPlots())
        {
            panel.Dispose();
        }
    }

    private static ScottPlot.Plottables.Scatter AddLine(Plot plot, double[] xs, double[] ys, Color color, string name)
    {
        var line = plot.Add.Scatter(xs, ys, color);
        line.LegendText = name;
        line.LineWidth = 2;
        line.MarkerSize = 5;
        return line;
    }

    /// <summary>
    /// The NoDependencies build of Skia's native library has no fontconfig, so it finds no system
    /// font and the text would not be drawn: register a TrueType file from the usual places
    /// (Debian's fonts-dejavu-core) under ScottPlot's default font name. Without one the curves are
    /// still drawn, their labels are not.
    /// </summary>
    private static void EnsureFont()
    {
        lock (s_fontLock)
        {
            if (s_fontChecked)
            {
                return;
            }

            s_fontChecked = true;
            if (SKFontManager.Default.FontFamilyCount > 0)
            {
                return;
            }

            string[] candidates =
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            ];
            if (candidates.FirstOrDefault(File.Exists) is { } file)
            {
                Fonts.AddFontFile(Fonts.Default, file);
            }
        }
    }
}
