using System.Text.Json.Nodes;
using TuplePool.NetnsRunner;

// Usage: TuplePool.NetnsRunner SCENARIO [--name value ...]   (run inside `ip netns exec NS`, as root)
// Prints one JSON object on stdout: the scenario's figures (a fault scenario's are its named
// checks, Faults/), or one with "error" and exit code 1 when the scenario crashed; 2 on bad usage.
// Scenarios register in Scenarios.All; engineer-owned scenarios live in their own files.
if (args.Length == 0 || !Scenarios.All.TryGetValue(args[0], out var scenario))
{
    Console.Out.WriteLine(new JsonObject { ["error"] = $"unknown scenario; known: {string.Join(", ", Scenarios.All.Keys)}" }.ToJsonString());
    return 2;
}

var options = RunnerArgs.Parse(args.AsSpan(1));
try
{
    var result = await scenario(options);
    Console.Out.WriteLine(result.ToJsonString());
    return result.ContainsKey("error") ? 1 : 0;
}
#pragma warning disable CA1031 // The runner reports every failure as JSON for the test to show.
catch (Exception e)
#pragma warning restore CA1031
{
    Console.Out.WriteLine(new JsonObject { ["error"] = e.ToString() }.ToJsonString());
    return 1;
}
