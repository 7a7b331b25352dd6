using System.Globalization;

namespace TuplePool.Doctor;

/// <summary>Culture-independent text: the doctor's output is read by scripts as well as people.</summary>
internal static class Invariant
{
    public static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A count with thousands separators: 28,232.</summary>
    public static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>New connections per second a tuple of <paramref name="capacity"/> ports sustains when this side closes first.</summary>
    public static double Rate(long capacity) => Math.Round(capacity / (double)Checks.PortRangeCheck.TimeWaitSeconds, 1);

    /// <summary><see cref="Rate"/> as text: 470.5, 0.2.</summary>
    public static string RateText(long capacity) => Rate(capacity).ToString("#,0.#", CultureInfo.InvariantCulture);

    /// <summary>A share as a whole percentage, never rounded up to 100 unless it is.</summary>
    public static string Percent(long part, long whole)
    {
        if (whole <= 0)
        {
            return "-";
        }

        var percent = Math.Floor(100.0 * part / whole);
        return percent == 0 && part > 0 ? "< 1 %" : percent.ToString("0", CultureInfo.InvariantCulture) + " %";
    }
}
