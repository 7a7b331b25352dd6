using System.Globalization;

namespace TuplePool.Doctor;

/// <summary>The command line of <c>tuplepool doctor</c>.</summary>
internal sealed class DoctorArguments
{
    public const int DefaultTop = 10;
    public const string Usage = """
        Usage: tuplepool doctor [options]

        Reads this host's /proc and says, line by line (ok / warn / fail), whether it is set up
        for many outbound TCP connections. Exit code: 0 no fail, 1 a fail, 2 bad input.

        Options:
          --json               Print the findings as JSON instead of a table.
          -v, --verbose        Explain ok lines too (warn and fail lines always are).
          --top N              Show the N busiest (source, destination, port) tuples (default 10).
          --config FILE        Also check a TuplePool configuration (an appsettings.json file).
          --section NAME       The configuration section of the pool (default TuplePool;
                               a keyed pool: TuplePool:NAME).
          --proc-root DIR      Read captured /proc text from DIR instead of /proc.
          -h, --help           Show this text.
        """;

    public bool Json { get; private set; }

    public bool Verbose { get; private set; }

    public int Top { get; private set; } = DefaultTop;

    public string? ConfigFile { get; private set; }

    public string Section { get; private set; } = TuplePoolDefaults.ConfigurationSectionName;

    public string ProcRoot { get; private set; } = "/proc";

    public bool Help { get; private set; }

    /// <summary>Parses <paramref name="args"/> (the command name first); throws <see cref="DoctorInputException"/> with what is wrong.</summary>
    public static DoctorArguments Parse(IReadOnlyList<string> args)
    {
        var result = new DoctorArguments();
        if (args.Count == 0)
        {
            throw new DoctorInputException("No command given: the command is `tuplepool doctor`.");
        }

        if (args[0] is "-h" or "--help" or "help")
        {
            result.Help = true;
            return result;
        }

        if (args[0] != "doctor")
        {
            throw new DoctorInputException($"Unknown command '{args[0]}': the command is `tuplepool doctor`.");
        }

        var sectionGiven = false;
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--json":
                    result.Json = true;
                    break;
                case "-v" or "--verbose":
                    result.Verbose = true;
                    break;
                case "-h" or "--help":
                    result.Help = true;
                    break;
                case "--top":
                    var top = Value(args, ref i);
                    if (!int.TryParse(top, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 10_000)
                    {
                        throw new DoctorInputException($"--top: '{top}' is not a number from 1 to 10000.");
                    }

                    result.Top = n;
                    break;
                case "--config":
                    result.ConfigFile = Value(args, ref i);
                    break;
                case "--section":
                    result.Section = Value(args, ref i);
                    sectionGiven = true;
                    if (string.IsNullOrWhiteSpace(result.Section))
                    {
                        throw new DoctorInputException("--section: the section name is empty.");
                    }

                    break;
                case "--proc-root":
                    result.ProcRoot = Value(args, ref i);
                    if (!Directory.Exists(result.ProcRoot))
                    {
                        throw new DoctorInputException($"--proc-root: {result.ProcRoot} is not a directory.");
                    }

                    break;
                default:
                    throw new DoctorInputException($"Unknown option '{arg}'.");
            }
        }

        if (sectionGiven && result.ConfigFile is null)
        {
            throw new DoctorInputException("--section needs --config FILE.");
        }

        return result;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new DoctorInputException($"{args[i]} needs a value.");
        }

        return args[++i];
    }
}
