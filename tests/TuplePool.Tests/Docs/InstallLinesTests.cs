using System.Text;
using System.Text.RegularExpressions;
using TuplePool.Doctor;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Docs;

/// <summary>
/// The install and doctor command lines of README.md and of each package's PACKAGE.md work from any
/// folder and offline where they say so: a package source is named by an absolute path in the
/// consuming project's own nuget.config (<c>--configfile</c>), prereleases are asked for, the tool
/// installs from the local folder alone (<c>--source</c>). .ci/package-consumer.sh runs the README's
/// lines themselves; every PACKAGE.md line is one of the README's, so it is run too.
/// </summary>
public sealed partial class InstallLinesTests
{
    /// <summary>Spans of prose that name a command without running one ("`dotnet tool update` installs …").</summary>
    private static readonly HashSet<string> CommandNames = new(StringComparer.Ordinal)
    {
        "dotnet nuget add source", "dotnet add package", "dotnet tool install", "dotnet tool update", "dotnet new nugetconfig",
    };

    private static readonly ILookup<string, string> NoAssignments = Array.Empty<string>().ToLookup(s => s, StringComparer.Ordinal);

    public static TheoryData<string> Files()
    {
        var files = new TheoryData<string> { "README.md" };
        foreach (var file in PackageReadmes())
        {
            files.Add(file);
        }

        return files;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AddSourceLines_NameAnAbsoluteFolderInTheProjectsOwnConfig(string file)
    {
        var commands = Commands(file);

        foreach (var command in commands.Where(c => c.StartsWith("dotnet nuget add source", StringComparison.Ordinal)))
        {
            var words = Words(command);
            Assert.True(words.Contains("--configfile"), $"{file}: without --configfile the source goes into whichever nuget.config is nearest: {command}");
            Assert.True(IsAbsolute(words[4], Assignments(file)), $"{file}: a relative source is read relative to the nuget.config it lands in: {command}");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AddPackageLines_TakePrereleases(string file)
    {
        foreach (var command in Commands(file).Where(c => c.StartsWith("dotnet add package", StringComparison.Ordinal)))
        {
            Assert.True(Words(command).Contains("--prerelease"), $"{file}: packages built from a clone are prereleases: {command}");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ToolInstallLines_NeedOnlyTheLocalFolder(string file)
    {
        foreach (var command in Commands(file).Where(c => ToolInstall().IsMatch(c)))
        {
            var words = Words(command);
            var source = words.IndexOf("--source");

            // --add-source keeps the other sources, and NuGet asks them all: offline it fails.
            Assert.True(source > 0 && IsAbsolute(words[source + 1], Assignments(file)), $"{file}: name the local folder, by absolute path, with --source: {command}");
            Assert.Contains("--prerelease", words);
            Assert.True(words.Contains("--global") || words.Contains("--local") || (words.IndexOf("--tool-path") is var at and > 0 && IsAbsolute(words[at + 1], Assignments(file))), $"{file}: where the tool goes (--tool-path with an absolute path, --global or --local): {command}");
        }
    }

    [Fact]
    public void EveryPackageReadme_SaysHowToInstallThatPackage()
    {
        foreach (var file in PackageReadmes())
        {
            var id = Path.GetFileName(Path.GetDirectoryName(file))!;
            var commands = Commands(file);
            var expected = id == "TuplePool.Doctor" ? $"dotnet tool update {id} " : $"dotnet add package {id} ";
            Assert.True(commands.Any(c => c.StartsWith(expected, StringComparison.Ordinal)), $"{file} has no \"{expected}…\" line");
            if (id != "TuplePool.Doctor")
            {
                Assert.Contains(commands, c => c.StartsWith("dotnet nuget add source", StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void PackageReadmeLines_AreTheReadmes()
    {
        // The README's are the lines .ci/package-consumer.sh runs.
        var readme = Commands("README.md").ToHashSet(StringComparer.Ordinal);

        foreach (var file in PackageReadmes())
        {
            var install = Commands(file).Where(c => c.StartsWith("dotnet nuget", StringComparison.Ordinal) || c.StartsWith("dotnet add", StringComparison.Ordinal) || c.StartsWith("dotnet tool", StringComparison.Ordinal) || c.StartsWith("[ -f", StringComparison.Ordinal) || c.StartsWith("feed=", StringComparison.Ordinal));
            foreach (var command in install)
            {
                Assert.True(readme.Contains(command), $"{file}: this line is not one of README.md's, which CI runs: {command}");
            }
        }
    }

    [Fact]
    public void Readme_DoctorRunLines_AreAcceptedByTheDoctor()
    {
        const string Prefix = "dotnet run -c Release --project src/TuplePool.Doctor -- ";
        var lines = Commands("README.md").Where(c => c.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(lines);
        Assert.True(File.Exists(Path.Combine(Repository.Root, "src", "TuplePool.Doctor", "TuplePool.Doctor.csproj")));

        foreach (var line in lines)
        {
            // As run from the clone's root: a relative --config is a path in the repository.
            var args = Words(line[Prefix.Length..]);
            var config = args.IndexOf("--config");
            if (config >= 0)
            {
                Assert.True(File.Exists(Path.Combine(Repository.Root, args[config + 1])), $"README.md: {args[config + 1]} is not in the repository");
                args[config + 1] = Path.Combine(Repository.Root, args[config + 1]);
            }

            using var output = new StringWriter();
            using var error = new StringWriter();
            var exit = DoctorCommand.Run(args, output, error);

            Assert.True(exit is ExitCodes.Ok or ExitCodes.Failed, $"README.md: `{line}` exited {exit}: {error}");
            Assert.NotEqual(string.Empty, output.ToString());
        }
    }

    private static IEnumerable<string> PackageReadmes()
        => Directory.GetFiles(Path.Combine(Repository.Root, "src"), "PACKAGE.md", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Repository.Root, f))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// The commands of a file: its bash blocks' lines (continuations joined, comments dropped, lists
    /// split at <c>&amp;&amp;</c> and <c>;</c>) and
    /// the <c>`dotnet …`</c> spans of its prose, except those that only name a command.
    /// </summary>
    internal static List<string> Commands(string file)
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, file)).Replace("\r\n", "\n", StringComparison.Ordinal);
        var commands = new List<string>();
        foreach (Match span in InlineCommands().Matches(BashBlocks().Replace(text, string.Empty)))
        {
            if (!CommandNames.Contains(span.Groups["command"].Value))
            {
                commands.Add(span.Groups["command"].Value);
            }
        }

        foreach (Match block in BashBlocks().Matches(text))
        {
            var pending = new StringBuilder();
            foreach (var raw in block.Groups["code"].Value.Split('\n'))
            {
                var line = StripComment(raw).Trim();
                if (line.EndsWith('\\'))
                {
                    pending.Append(line[..^1].TrimEnd()).Append(' ');
                    continue;
                }

                pending.Append(line);
                var joined = pending.ToString();
                pending.Clear();

                // One command per part of a list (a && b): "[ -f x ] || b" stays whole, it is one step.
                foreach (var part in joined.Split(["&&", ";"], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    commands.Add(part);
                }
            }
        }

        return commands;
    }

    /// <summary>Shell words, double quotes kept (so <c>"$feed"</c> stays recognisable).</summary>
    private static List<string> Words(string command)
        => ShellWords().Matches(command).Select(m => m.Value).ToList();

    /// <summary>The values of the file's <c>name="value"</c> lines, by name (a block may assign a name again).</summary>
    private static ILookup<string, string> Assignments(string file)
        => Commands(file).Select(c => Assignment().Match(c)).Where(m => m.Success)
            .ToLookup(m => m.Groups["name"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);

    /// <summary>A path that means the same from any folder: <c>/…</c>, <c>~/…</c>, <c>$HOME/…</c>, or a variable only ever assigned one.</summary>
    private static bool IsAbsolute(string word, ILookup<string, string> assignments)
    {
        var unquoted = word.Trim('"');
        if (VariableOnly().Match(unquoted) is { Success: true } variable)
        {
            var values = assignments[variable.Groups["name"].Value].ToList();
            return values.Count > 0 && values.All(v => IsAbsolute(v, NoAssignments));
        }

        return unquoted.StartsWith('/') || unquoted.StartsWith("~/", StringComparison.Ordinal) || unquoted.StartsWith("$HOME/", StringComparison.Ordinal);
    }

    private static string StripComment(string line)
    {
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                quoted = !quoted;
            }
            else if (line[i] == '#' && !quoted && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return line[..i];
            }
        }

        return line;
    }

    [GeneratedRegex("```bash\\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlocks();

    [GeneratedRegex("`(?<command>dotnet [^`\\n]+)`")]
    private static partial Regex InlineCommands();

    [GeneratedRegex("\"[^\"]*\"|[^\\s\"]+")]
    private static partial Regex ShellWords();

    [GeneratedRegex("^(?<name>[A-Za-z_][A-Za-z0-9_]*)=\"(?<value>[^\"]*)\"$")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^\$\{?(?<name>[A-Za-z_][A-Za-z0-9_]*)\}?$")]
    private static partial Regex VariableOnly();

    [GeneratedRegex(@"^dotnet tool (install|update)\b")]
    private static partial Regex ToolInstall();
}
