using System.Globalization;

namespace TuplePool.NetnsRunner;

/// <summary>The <c>--name value</c> pairs after the scenario name.</summary>
internal sealed class RunnerArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static RunnerArgs Parse(ReadOnlySpan<string> args)
    {
        var parsed = new RunnerArgs();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Expected --name, got '{args[i]}'.");
            }

            parsed._values[args[i][2..]] = args[i + 1];
        }

        return parsed;
    }

    public string Get(string name, string? fallback = null)
        => _values.TryGetValue(name, out var value) ? value : fallback ?? throw new ArgumentException($"--{name} is required.");

    public int GetInt(string name, int? fallback = null)
        => _values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback ?? throw new ArgumentException($"--{name} is required.");
}
