using System.Text;

namespace TuplePool.Demo;

/// <summary>The final side-by-side table: one row per measure, plain sockets against TuplePool.</summary>
internal sealed class ResultTable
{
    private static readonly string[] s_headers = ["Scenario", "Measure", "Plain sockets", "TuplePool", "TuplePool vs plain"];

    private readonly List<string[]> _rows = [];
    private readonly List<string> _notes = [];

    public void Add(string scenario, string measure, string plain, string pool, string comparison = "") =>
        _rows.Add([scenario, measure, plain, pool, comparison]);

    public void AddSkipped(string scenario, string reason)
    {
        _rows.Add([scenario, "skipped (see below)", "-", "-", ""]);
        _notes.Add($"{scenario} skipped: {reason}");
    }

    /// <summary>A line printed under the table.</summary>
    public void AddNote(string note) => _notes.Add(note);

    public string Render()
    {
        var widths = new int[s_headers.Length];
        foreach (var row in _rows.Prepend(s_headers))
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        AppendRow(text, s_headers, widths);
        AppendRow(text, widths.Select(w => new string('-', w)).ToArray(), widths);
        string? previous = null;
        foreach (var row in _rows)
        {
            var shown = (string[])row.Clone();
            if (shown[0] == previous)
            {
                shown[0] = string.Empty;
            }
            else
            {
                previous = shown[0];
            }

            AppendRow(text, shown, widths);
        }

        foreach (var note in _notes)
        {
            text.AppendLine(note);
        }

        return text.ToString();
    }

    private static void AppendRow(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append("| ");
        for (var i = 0; i < cells.Length; i++)
        {
            text.Append(cells[i].PadRight(widths[i])).Append(" | ");
        }

        text.Length--;
        text.AppendLine();
    }
}
