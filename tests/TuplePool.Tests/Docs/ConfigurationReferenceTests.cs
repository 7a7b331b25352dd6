using System.Reflection;
using System.Text.RegularExpressions;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Docs;

/// <summary>
/// The README's configuration reference table names every setting: each public settable property
/// of <see cref="TuplePoolOptions"/>, read by reflection so an option added later is caught, and
/// each one of the option classes such a property holds (<see cref="TcpKeepAlive"/>,
/// <see cref="NatOptions"/>, and any added later) as <c>Parent.Child</c>. No row names a setting
/// that is gone.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    [Fact]
    public void Readme_ConfigurationTable_HasARowForEverySetting()
    {
        var rows = TableRows();

        var missing = Settings().Where(s => !rows.Contains(s)).ToList();

        Assert.True(missing.Count == 0, "README.md, section \"Configuration reference\": add a row (| `Name` | default | meaning |) for " + string.Join(", ", missing));
    }

    [Fact]
    public void Readme_ConfigurationTable_NamesNoSettingThatIsGone()
    {
        var settings = Settings().ToHashSet(StringComparer.Ordinal);

        var stale = TableRows().Where(r => !settings.Contains(r)).ToList();

        Assert.True(stale.Count == 0, "README.md, section \"Configuration reference\": no such setting: " + string.Join(", ", stale));
    }

    [Fact]
    public void Settings_IncludeTheNestedOptionClasses()
    {
        // The reflection below must see through to the nested classes, or the first test would
        // pass with their rows missing.
        var settings = Settings().ToList();

        Assert.Contains(nameof(TuplePoolOptions.MaxPendingAcquires), settings);
        Assert.Contains($"{nameof(TuplePoolOptions.KeepAlive)}.{nameof(TcpKeepAlive.RetryCount)}", settings);
        Assert.Contains($"{nameof(TuplePoolOptions.Nat)}.{nameof(NatOptions.PortsPerDestination)}", settings);
        Assert.DoesNotContain("PoolName", settings);
    }

    /// <summary>The settings a user can set: <c>Name</c>, and <c>Parent.Child</c> for an option class's properties.</summary>
    private static IEnumerable<string> Settings()
    {
        foreach (var property in Settable(typeof(TuplePoolOptions)))
        {
            yield return property.Name;
            if (IsOptionClass(property.PropertyType))
            {
                foreach (var child in Settable(property.PropertyType))
                {
                    yield return $"{property.Name}.{child.Name}";
                }
            }
        }
    }

    private static IEnumerable<PropertyInfo> Settable(Type type)
        => type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true });

    /// <summary>A class of the library's own that holds settings (not a value such as <see cref="PortRange"/>, a list or a delegate).</summary>
    private static bool IsOptionClass(Type type)
        => type.IsClass && type.Assembly == typeof(TuplePoolOptions).Assembly && !typeof(Delegate).IsAssignableFrom(type) && Settable(type).Any();

    /// <summary>The setting each row of the table names (its first cell, in backticks).</summary>
    private static List<string> TableRows()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        var start = readme.IndexOf("\n## Configuration reference\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no \"## Configuration reference\" section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? readme[start..] : readme[start..end];

        var table = section.Split('\n').SkipWhile(l => !l.StartsWith("| option |", StringComparison.Ordinal)).Skip(2).TakeWhile(l => l.StartsWith('|')).ToList();
        Assert.NotEmpty(table);
        var names = new List<string>();
        foreach (var row in table)
        {
            var cell = FirstCell().Match(row);
            Assert.True(cell.Success, "A configuration table row whose first cell is not a `Name`: " + row);
            names.Add(cell.Groups["name"].Value);
        }

        return names;
    }

    [GeneratedRegex(@"^\| `(?<name>[A-Za-z][A-Za-z0-9.]*)` \|")]
    private static partial Regex FirstCell();
}
