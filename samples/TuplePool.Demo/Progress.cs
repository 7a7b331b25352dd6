using System.Diagnostics;
using System.Globalization;

namespace TuplePool.Demo;

/// <summary>Progress lines, each stamped with the seconds since the demo started.</summary>
internal static class Progress
{
    private static readonly Stopwatch s_clock = Stopwatch.StartNew();

    public static void Line(string scenario, string text) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{s_clock.Elapsed.TotalSeconds,5:F1}s] {scenario,-8} {text}"));
}
