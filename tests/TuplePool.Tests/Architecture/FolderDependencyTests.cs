using System.Text.RegularExpressions;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Architecture;

/// <summary>
/// The folders of <c>src/TuplePool</c> form layers: each one uses types of the folders below it
/// and none above, so no two folders depend on each other. Read from the source text:
/// every type a folder declares, and every other folder's file that names it outside comments
/// and strings. The expected layering is written out, so a new dependency is a visible decision.
/// </summary>
public sealed partial class FolderDependencyTests
{
    // Lowest first. A folder may use the folders listed before it, never one after it.
    private static readonly string[] Layers =
    [
        "Internal",
        "Serialization",
        "Platform",
        "Options",
        "Budget",
        "Sources",
        "Telemetry",
        "Connecting",
        "Pooling",
        "(root)",
        "SocketsHttp",
        "Hosting",
    ];

    [Fact]
    public void EveryFolderOfTheLibrary_UsesOnlyFoldersBelowIt()
    {
        var files = SourceFiles();
        var declaredIn = new Dictionary<string, HashSet<string>>();
        foreach (var (folder, text) in files)
        {
            foreach (Match match in TypeDeclaration().Matches(text))
            {
                if (!declaredIn.TryGetValue(match.Groups["name"].Value, out var folders))
                {
                    declaredIn[match.Groups["name"].Value] = folders = [];
                }

                folders.Add(folder);
            }
        }

        Assert.Equal(Layers.Order(), files.Select(f => f.Folder).Distinct().Order()); // every folder has its layer
        var upward = new List<string>();
        foreach (var (folder, text) in files)
        {
            var code = StringLiteral().Replace(string.Join('\n', text.Split('\n').Select(l => l.Split("//")[0])), "\"\"");
            foreach (var name in Identifier().Matches(code).Select(m => m.Value).Distinct())
            {
                // A name declared in one other folder only (nested names such as "Converter" repeat).
                if (declaredIn.TryGetValue(name, out var owners) && owners.Count == 1 && owners.Single() is var owner && owner != folder
                    && Array.IndexOf(Layers, owner) > Array.IndexOf(Layers, folder))
                {
                    upward.Add($"{folder} uses {name} from {owner}");
                }
            }
        }

        Assert.True(upward.Count == 0, "Dependencies that point up the layers (a cycle in the making):\n" + string.Join('\n', upward.Distinct()));
    }

    private static List<(string Folder, string Text)> SourceFiles()
    {
        var root = Path.Combine(Repository.Root, "src", "TuplePool");
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(p =>
            {
                var relative = Path.GetRelativePath(root, p);
                var separator = relative.IndexOf(Path.DirectorySeparatorChar);
                return (separator < 0 ? "(root)" : relative[..separator], File.ReadAllText(p));
            })
            .ToList();
        Assert.True(files.Count > 50, $"only {files.Count} source files found under {root}");
        return files;
    }

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?)\s+(?<name>[A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"\b[A-Z]\w*\b")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex StringLiteral();
}
