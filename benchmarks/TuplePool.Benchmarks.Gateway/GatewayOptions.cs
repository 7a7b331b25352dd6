using System.Globalization;

namespace TuplePool.Benchmarks.Gateway;

/// <summary>The command line of the gateway comparison.</summary>
internal sealed class GatewayOptions
{
    public const string Usage = """
        YARP without and with UseTuplePool under wrk, on loopback (benchmarks/gateway.sh).

        Usage: dotnet run -c Release --project benchmarks/TuplePool.Benchmarks.Gateway -- [options]

          --seconds S       length of one wrk run (default 10)
          --threads N       wrk threads, -t (default 2)
          --connections N   wrk connections, -c (default 64)
          --rounds N        rounds; each runs every mode on both proxies, the order
                            alternating from round to round (default 3)
          --modes LIST      keepalive, churn (wrk sends Connection: close, so every request
                            is a new client connection to the proxy) and/or backend-churn (the
                            backends answer Connection: close, so every request is a new
                            connection from the proxy to a backend) (default keepalive,churn)
          --backends N      Kestrel backends behind each proxy (default 3)
          --sources N       the pool's source addresses 127.0.0.2 ... 127.0.0.(N+1) (default 4)
          --port-base P     backends listen on P+1 ..., the plain proxy on P+50, the pool
                            proxy on P+51, all on 127.0.0.1 (default 21100; below 32768)
          --wrk PATH        the wrk executable (default wrk, from PATH)
          --help            this text
        """;

    private static readonly string[] s_allModes = ["keepalive", "churn", "backend-churn"];

    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(10);

    public int Threads { get; private set; } = 2;

    public int Connections { get; private set; } = 64;

    public int Rounds { get; private set; } = 3;

    public IReadOnlyList<string> Modes { get; private set; } = ["keepalive", "churn"];

    public int Backends { get; private set; } = 3;

    public int Sources { get; private set; } = 4;

    public int PortBase { get; private set; } = 21100;

    public string Wrk { get; private set; } = "wrk";

    public bool Help { get; private set; }

    public int PlainProxyPort => PortBase + 50;

    public int PoolProxyPort => PortBase + 51;

    public static bool TryParse(string[] args, out GatewayOptions options, out string? error)
    {
        options = new GatewayOptions();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{name} needs a value.");
            try
            {
                switch (name)
                {
                    case "--help" or "-h":
                        options.Help = true;
                        break;
                    case "--seconds":
                        options.Duration = TimeSpan.FromSeconds(Positive(name, Value(), 3600));
                        break;
                    case "--threads":
                        options.Threads = Positive(name, Value(), 64);
                        break;
                    case "--connections":
                        options.Connections = Positive(name, Value(), 10_000);
                        break;
                    case "--rounds":
                        options.Rounds = Positive(name, Value(), 100);
                        break;
                    case "--modes":
                        var modes = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                        var unknown = modes.Except(s_allModes, StringComparer.Ordinal).ToList();
                        if (modes.Length == 0 || unknown.Count > 0)
                        {
                            throw new FormatException($"--modes takes {string.Join(", ", s_allModes)}, not '{string.Join(',', unknown)}'.");
                        }

                        options.Modes = modes.Distinct(StringComparer.Ordinal).ToList();
                        break;
                    case "--backends":
                        options.Backends = Positive(name, Value(), 40);
                        break;
                    case "--sources":
                        options.Sources = Positive(name, Value(), 250);
                        break;
                    case "--port-base":
                        options.PortBase = Positive(name, Value(), 32767 - 51);
                        if (options.PortBase < 1024)
                        {
                            throw new FormatException("--port-base takes a port from 1024 (the listeners stay below 32768).");
                        }

                        break;
                    case "--wrk":
                        options.Wrk = Value();
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

    private static int Positive(string name, string text, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
            ? value
            : throw new FormatException($"{name} takes a whole number from 1 to {max}, not '{text}'.");
}
