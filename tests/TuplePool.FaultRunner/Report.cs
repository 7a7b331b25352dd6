using System.Text.Json;

namespace TuplePool.FaultRunner;

/// <summary>The named checks of one scenario, printed as one JSON object the test asserts on.</summary>
internal sealed class Report(string scenario)
{
    private readonly List<Entry> _checks = [];
    private readonly Dictionary<string, object?> _figures = [];

    public void Check(string name, bool ok, string detail) => _checks.Add(new Entry(name, ok, detail));

    public void Figure(string name, object? value) => _figures[name] = value;

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
