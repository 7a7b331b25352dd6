using System.Text.Json;
using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

/// <summary>The named checks of one fault scenario, printed as one JSON object the test asserts on.</summary>
internal sealed class Report(string scenario)
{
    private readonly List<Entry> _checks = [];
    private readonly Dictionary<string, JsonNode?> _figures = [];

    public void Check(string name, bool ok, string detail) => _checks.Add(new Entry(name, ok, detail));

    public void Figure(string name, object? value) => _figures[name] = JsonSerializer.SerializeToNode(value);

    /// <summary>Takes over the checks and figures of a child process's report (and its crash, if any).</summary>
    public void Include(JsonObject child)
    {
        foreach (var check in child["checks"]!.AsArray())
        {
            Check((string)check!["name"]!, (bool)check["ok"]!, (string?)check["detail"] ?? "");
        }

        foreach (var (name, value) in child["figures"]!.AsObject())
        {
            _figures[name] = value?.DeepClone();
        }

        if (child["error"] is { } error)
        {
            Check($"the child scenario '{(string?)child["scenario"]}' ran to its end", false, error.ToString());
        }
    }

    /// <summary>The report; <c>"error"</c> only when the scenario crashed (<paramref name="error"/> not null).</summary>
    public JsonObject ToJson(string? error)
    {
        var checks = new JsonArray();
        foreach (var check in _checks)
        {
            checks.Add(new JsonObject { ["name"] = check.Name, ["ok"] = check.Ok, ["detail"] = check.Detail });
        }

        var figures = new JsonObject();
        foreach (var (name, value) in _figures)
        {
            figures[name] = value?.DeepClone();
        }

        var report = new JsonObject
        {
            ["scenario"] = scenario,
            ["ok"] = error is null && _checks.Count > 0 && _checks.TrueForAll(c => c.Ok),
            ["checks"] = checks,
            ["figures"] = figures,
        };
        if (error is not null)
        {
            report["error"] = error;
        }

        return report;
    }

    private sealed record Entry(string Name, bool Ok, string Detail);
}
