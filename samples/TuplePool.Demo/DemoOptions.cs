using System.Globalization;

namespace TuplePool.Demo;

/// <summary>The command line of the demo.</summary>
internal sealed class DemoOptions
{
    public const string Usage = """
        TuplePool demo: what TuplePool does on this machine, on loopback only (127.0.0.0/8).

        Usage: dotnet run -c Release --project samples/TuplePool.Demo -- [options]

          --connections N   capacity: connections to hold open at once, plain and pooled
                            (default: sources x range size, 4 x 1,000 = 4,000)
          --sources N       source addresses for the pool: 127.0.0.2 ... 127.0.0.(N+1) (default 4)
          --range A-B       client port range for capacity and churn, set per socket with
                            IP_LOCAL_PORT_RANGE on both sides (default 50000-50999)
          --pictures DIR    folder for the PNG pictures of the curves (default ./demo-output)
          --crowd N         crowded connect: connections held open to one destination before
                            timing connect() (default 16,000)
          --samples N       crowded connect: connects timed per side and state (default 200)
          --requests N      churn: request attempts per side (default 20,000)
          --seconds S       churn: time limit per side in seconds (default 2)
          --only LIST       run only these scenarios: capacity,churn,crowded,nat
          --help            this text

        The server side runs in a child process (this program with a hidden --serve switch)
        listening on 127.0.0.1 below port 32768, so the 20,000-descriptor limit of one process
        covers only the client side.

        Behind a NAT (nat) needs root, ip and nft: hosts in network namespaces behind a router
        that masquerades to 10 ports (addresses from 198.18.0.0/15), plain sockets against the
        pool with Nat set, and with redis-server three hosts sharing the NAT through Redis. The
        namespaces and their processes are removed afterwards; without root it is skipped.
        """;

    public int? Connections { get; private set; }

    public int Sources { get; private set; } = 4;

    public PortRange Range { get; private set; } = new(50000, 50999);

    public int Crowd { get; private set; } = 16_000;

    public int Samples { get; private set; } = 200;

    public int Requests { get; private set; } = 20_000;

    public TimeSpan ChurnTime { get; private set; } = TimeSpan.FromSeconds(2);

    public HashSet<string> Scenarios { get; } = new(StringComparer.OrdinalIgnoreCase) { "capacity", "churn", "crowded", "nat" };

    public bool Help { get; private set; }

    /// <summary>Where the pictures go (Pictures/DemoPictures.cs).</summary>
    public string PicturesFolder { get; private set; } = "demo-output";

    /// <summary>Connections for the capacity scenario: the flag, or as many as the pool has budget for.</summary>
    public int CapacityConnections => Connections ?? Sources * Range.Count;

    /// <summary>Parses <paramref name="args"/>; on a bad argument returns false with <paramref name="error"/>.</summary>
    public static bool TryParse(string[] args, out DemoOptions options, out string? error)
    {
        options = new DemoOptions();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"{name} needs a value.");
                }

                return args[++i];
            }

            try
            {
                switch (name)
                {
                    case "--help" or "-h" or "-?":
                        options.Help = true;
                        break;
                    case "--connections":
                        options.Connections = Positive(name, Value(), max: 1_000_000);
                        break;
                    case "--sources":
                        options.Sources = Positive(name, Value(), max: 250);
                        break;
                    case "--range":
                        options.Range = PortRange.Parse(Value());
                        break;
                    case "--crowd":
                        options.Crowd = Positive(name, Value(), max: 1_000_000);
                        break;
                    case "--samples":
                        options.Samples = Positive(name, Value(), max: 100_000);
                        break;
                    case "--requests":
                        options.Requests = Positive(name, Value(), max: 100_000_000);
                        break;
                    case "--seconds":
                        options.ChurnTime = TimeSpan.FromSeconds(Positive(name, Value(), max: 3600));
                        break;
                    case "--pictures":
                        options.PicturesFolder = Value();
                        break;
                    case "--only":
                        var wanted = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                        var unknown = wanted.Where(w => w is not ("capacity" or "churn" or "crowded" or "nat")).ToList();
                        if (wanted.Length == 0 || unknown.Count > 0)
                        {
                            throw new FormatException($"--only takes capacity, churn, crowded and/or nat, not '{string.Join(',', unknown)}'.");
                        }

                        options.Scenarios.Clear();
                        options.Scenarios.UnionWith(wanted);
                        break;
                    default:
                        throw new FormatException($"Unknown option '{name}'.");
                }
            }
            catch (FormatException e)
            {
                error = e.Message;
                return false;
            }
        }

        return true;
    }

    private static int Positive(string name, string text, int max)
    {
        if (!int.TryParse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var value) || value < 1 || value > max)
        {
            throw new FormatException($"{name} takes a whole number from 1 to {max:N0}, not '{text}'.");
        }

        return value;
    }
}
