using System.Globalization;
using System.Net;

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
          --destination IP:PORT
                               With --config and a Nat section: judge the NAT for this
                               destination (repeatable; default: each of Nat.Destinations).
          --rate N             With --config and a Nat section: new connections/s to one
                               destination (the whole fleet's with TuplePool.Redis); the
                               doctor predicts the waiting at that rate.
          --concurrent N       With --rate: connections open at once to that destination
                               (default 0).
          --proc-root DIR      Read captured /proc text from DIR instead of /proc.
          -h, --help           Show this text.
        """;

    public bool Json { get; private set; }

    public bool Verbose { get; private set; }

    public int Top { get; private set; } = DefaultTop;

    public string? ConfigFile { get; private set; }

    public string Section { get; private set; } = TuplePoolDefaults.ConfigurationSectionName;

    public string ProcRoot { get; private set; } = "/proc";

    /// <summary>Destinations named with <c>--destination</c>, in order.</summary>
    public IReadOnlyList<IPEndPoint> Destinations => _destinations;

    /// <summary>New connections/s to one destination (<c>--rate</c>); null when not given.</summary>
    public double? Rate { get; private set; }

    /// <summary>Connections open at once to one destination (<c>--concurrent</c>).</summary>
    public int Concurrent { get; private set; }

    public bool Help { get; private set; }

    private readonly List<IPEndPoint> _destinations = [];

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
        var concurrentGiven = false;
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
                case "--destination":
                    var destination = Value(args, ref i);
                    // Without a port IPEndPoint parses port 0: the NAT's budget is per IP and port.
                    if (!IPEndPoint.TryParse(destination, out var endpoint) || endpoint.Port == 0)
                    {
                        throw new DoctorInputException($"--destination: '{destination}' is not IP:PORT (e.g. 198.51.100.7:443 or [2001:db8::7]:443).");
                    }

                    result._destinations.Add(endpoint);
                    break;
                case "--rate":
                    var rate = Value(args, ref i);
                    if (!double.TryParse(rate, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var perSecond) || perSecond is <= 0 or > 10_000_000)
                    {
                        throw new DoctorInputException($"--rate: '{rate}' is not a number of new connections per second above 0 and at most 10000000.");
                    }

                    result.Rate = perSecond;
                    break;
                case "--concurrent":
                    var concurrent = Value(args, ref i);
                    if (!int.TryParse(concurrent, NumberStyles.None, CultureInfo.InvariantCulture, out var open) || open > 10_000_000)
                    {
                        throw new DoctorInputException($"--concurrent: '{concurrent}' is not a number from 0 to 10000000.");
                    }

                    result.Concurrent = open;
                    concurrentGiven = true;
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

        if ((result.Rate is not null || result._destinations.Count > 0) && result.ConfigFile is null)
        {
            throw new DoctorInputException("--rate and --destination judge the NAT of a configuration: they need --config FILE (with a Nat section).");
        }

        if (concurrentGiven && result.Rate is null)
        {
            throw new DoctorInputException("--concurrent needs --rate N.");
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
