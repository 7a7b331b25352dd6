using System.Text.Json;

namespace TuplePool.FaultRunner;

/// <summary>The named checks of one scenario, printed as one JSON object the test asserts on.</summary>
internal sealed class Report(string scenario)
{
    private readonly List<Entry> _checks = [];
    private readonly Dictionary<string, object?> _figures = [];

    public void Check(string name, bool ok, string detail) => _checks.Add(new Entry(name, ok, detail));

    public void Figure(string name, object? value) => _figures[name] = value;

    /// <summary>Takes over the checks and figures of a child process's report (and its crash, if any).</summary>
    public void Include(JsonElement child)
    {
        foreach (var check in child.GetProperty("checks").EnumerateArray())
        {
            Check(check.GetProperty("name").GetString()!, check.GetProperty("ok").GetBoolean(), check.GetProperty("detail").GetString() ?? "");
        }

        foreach (var figure in child.GetProperty("figures").EnumerateObject())
        {
            _figures[figure.Name] = figure.Value.Clone();
        }

        if (child.GetProperty("error") is { ValueKind: JsonValueKind.String } error)
        {
            Check($"the child scenario '{child.GetProperty("scenario").GetString()}' ran to its end", false, error.GetString()!);
        }
    }

    public string ToJson(string? error) => JsonSerializer.Serialize(new
    {
        scenario,
        ok = error is null && _checks.Count > 0 && _checks.TrueForAll(c => c.Ok),
        error,
        checks = _checks.Select(c => new { name = c.Name, ok = c.Ok, detail = c.Detail }),
        figures = _figures,
    });

    private sealed record Entry(string Name, bool Ok, string Detail);
}
