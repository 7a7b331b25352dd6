using System.Text;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Report;

/// <summary>The findings as a table: verdict, check, finding, with the advice indented below.</summary>
internal static class TableReportWriter
{
    private const int MaxCheckWidth = 34;
    private const int Width = 110;

    /// <summary>Writes the table; the advice under ok lines only when <paramref name="verbose"/> (warn and fail lines always get theirs).</summary>
    public static void Write(DoctorReport report, TextWriter output, bool verbose)
    {
        var checkWidth = Math.Min(MaxCheckWidth, Math.Max("CHECK".Length, report.Findings.Max(static f => f.Check.Length)));
        var indent = new string(' ', 7 + 1 + checkWidth + 1);
        output.WriteLine(F($"{"VERDICT",-7} {"CHECK".PadRight(checkWidth)} FINDING"));
        foreach (var finding in report.Findings)
        {
            var check = finding.Check.Length > checkWidth ? finding.Check[..(checkWidth - 1)] + "~" : finding.Check.PadRight(checkWidth);
            output.WriteLine(F($"{Label(finding.Verdict),-7} {check} {finding.Summary}"));
            if (finding.Advice is { } advice && (verbose || finding.Verdict != Verdict.Ok))
            {
                foreach (var line in Wrap(advice, Width - indent.Length))
                {
                    output.WriteLine(indent + line);
                }
            }
        }

        output.WriteLine();
        output.WriteLine(F($"{report.Count(Verdict.Ok)} ok, {report.Count(Verdict.Warn)} warn, {report.Count(Verdict.Fail)} fail (read from {report.ProcRoot}; {CensusNames.Text(report.SocketCensus)})"));
    }

    public static string Label(Verdict verdict) => verdict switch
    {
        Verdict.Ok => "ok",
        Verdict.Warn => "warn",
        _ => "fail",
    };

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }

            if (line.Length > 0)
            {
                line.Append(' ');
            }

            line.Append(word);
        }

        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }
}
