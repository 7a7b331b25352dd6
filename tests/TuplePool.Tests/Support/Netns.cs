using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace TuplePool.Tests.Support;

/// <summary>
/// A network namespace a test creates and removes itself (<c>ip netns</c>), and the child
/// process that runs a scenario inside it: <c>ip netns exec NAME dotnet TuplePool.NetnsRunner.dll
/// SCENARIO --name value ...</c>, whose one line of JSON on stdout is the result (a fault
/// scenario's named checks, or figures). The census, the addresses and the sysctls a scenario
/// changes are the namespace's, never the host's. (A process's namespace is set before its first
/// thread; a multithreaded .NET process cannot setns itself.) Names carry the test process's id
/// (<c>tp-PURPOSE-PID-N</c>); namespaces left by a run that died are removed by the next one.
/// </summary>
/// <example>
/// <code>
/// if (Netns.SkipReason() is { } why) Assert.Skip(why);
/// using var ns = Netns.Create("tw");
/// ns.Sysctl("net.ipv4.tcp_tw_reuse", "0");
/// var result = ns.RunScenario("time-wait-ledger", ("port", "21000"));
/// </code>
/// </example>
public sealed class Netns : IDisposable
{
    private static int _created;

    private Netns(string name) => Name = name;

    /// <summary>The namespace's name (unique per process and call).</summary>
    public string Name { get; }

    /// <summary>
    /// Why namespace tests cannot run here (not Linux, not root, <c>ip</c> or <c>ss</c> missing),
    /// or null when they can. With <paramref name="needNft"/>, nft too.
    /// </summary>
    public static string? SkipReason(bool needNft = false)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces are Linux only";
        }

        if (Environment.UserName != "root" && !IsRoot())
        {
            return "network namespace tests need root (ip netns add; CI runs as root)";
        }

        foreach (var tool in new[] { "ip", "ss" })
        {
            if (FindTool(tool) is null)
            {
                return $"the {tool} tool (Debian package iproute2) is not installed";
            }
        }

        if (needNft && FindTool("nft") is null)
        {
            return "nft (Debian package nftables) is not installed";
        }

        return null;
    }

    /// <summary>True while a namespace of that name is listed (<c>ip netns list</c>).</summary>
    public static bool Exists(string name)
        => Run("ip", ["netns", "list"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Any(line => line.Split(' ')[0] == name);

    /// <summary>Creates a namespace with <c>lo</c> up. Dispose deletes it (and its /etc/netns files).</summary>
    public static Netns Create(string purpose)
    {
        if (purpose.Contains('-', StringComparison.Ordinal))
        {
            throw new ArgumentException("One word: the name's fields are split on '-'.", nameof(purpose));
        }

        RemoveStale();
        var name = $"tp-{purpose}-{Environment.ProcessId}-{Interlocked.Increment(ref _created)}";
        Run("ip", ["netns", "delete", name], check: false);
        Run("ip", ["netns", "add", name]);
        var ns = new Netns(name);
        try
        {
            ns.Exec("ip", "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command inside the namespace; throws with its output when it fails.</summary>
    public CommandResult Exec(string file, params string[] args) => Run("ip", ["netns", "exec", Name, file, .. args]);

    /// <summary>Sets a sysctl of the namespace (net.* is per namespace; the host's are never touched).</summary>
    public void Sysctl(string key, string value) => Exec("sysctl", "-qw", $"{key}={value}");

    /// <summary>A sysctl of the namespace, as <c>sysctl -n</c> prints it.</summary>
    public string ReadSysctl(string key) => Exec("sysctl", "-n", key).StandardOutput.Trim();

    /// <summary>
    /// A veth pair: <paramref name="name"/> in this namespace, <paramref name="peerName"/> in
    /// <paramref name="peer"/>. Each end is created in its namespace (never in the host's), so the
    /// names only need to be unique there; deleting either namespace removes the pair.
    /// </summary>
    public void AddVeth(string name, Netns peer, string peerName)
        => Run("ip", ["link", "add", name, "netns", Name, "type", "veth", "peer", "name", peerName, "netns", peer.Name]);

    /// <summary>Loads an nftables ruleset (nft -f syntax) into the namespace.</summary>
    public void Nft(string ruleset) => Run("ip", ["netns", "exec", Name, "nft", "-f", "-"], stdin: ruleset);

    /// <summary>
    /// The namespace's own <c>/etc/hosts</c>: <c>ip netns exec</c> bind-mounts
    /// <c>/etc/netns/NAME/hosts</c> over it for the commands it runs.
    /// </summary>
    public void WriteHosts(string content)
    {
        Directory.CreateDirectory(EtcDirectory);
        File.WriteAllText(Path.Combine(EtcDirectory, "hosts"), content);
    }

    /// <summary>
    /// Runs <paramref name="scenario"/> of TuplePool.NetnsRunner inside the namespace and returns
    /// its JSON. Throws, with what the runner printed (a fault scenario's checks so far), when it
    /// fails or reports an error.
    /// </summary>
    /// <remarks>Awaited, not waited on: a scenario runs for seconds, and a blocked test thread would hold back the rest of the suite.</remarks>
    public async Task<JsonObject> RunScenarioAsync(string scenario, params (string Name, string Value)[] args)
    {
        var result = await RunAsync("ip", ScenarioCommand(scenario, args), check: false, stdin: null, timeout: TimeSpan.FromMinutes(4));
        var json = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        var parsed = json is null ? null : JsonNode.Parse(json) as JsonObject;
        if (result.ExitCode != 0 || parsed is null || parsed.ContainsKey("error"))
        {
            throw new InvalidOperationException($"Runner scenario {scenario} in {Name} failed (exit {result.ExitCode}):\n{result.StandardOutput}\n{result.StandardError}");
        }

        return parsed;
    }

    /// <summary>
    /// Starts <paramref name="scenario"/> of TuplePool.NetnsRunner inside the namespace and leaves it
    /// running (a server, a client that holds connections): it talks a line protocol on stdin and
    /// stdout, and stops when killed (Dispose) or when its stdin ends.
    /// </summary>
    public RunningScenario StartScenario(string scenario, params (string Name, string Value)[] args)
    {
        var start = new ProcessStartInfo(FindTool("ip") ?? "ip");
        foreach (var arg in ScenarioCommand(scenario, args))
        {
            start.ArgumentList.Add(arg);
        }

        // ip netns exec execs the command in place: the process is the runner itself, and killing it ends the scenario.
        return RunningScenario.Start(start, $"runner scenario {scenario} in {Name}");
    }

    public void Dispose()
    {
        Run("ip", ["netns", "delete", Name], check: false);
        if (Directory.Exists(EtcDirectory))
        {
            Directory.Delete(EtcDirectory, recursive: true);
        }
    }

    private string EtcDirectory => Path.Combine("/etc/netns", Name);

    /// <summary>The runner's dll, built beside this test assembly (the test project builds it first).</summary>
    public static string RunnerPath()
    {
        // .../tests/TuplePool.Tests/bin/<Configuration>/<tfm>/ → .../tests/TuplePool.NetnsRunner/bin/<Configuration>/<tfm>/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = here.Name;
        var configuration = here.Parent!.Name;
        var tests = here.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(tests, "TuplePool.NetnsRunner", "bin", configuration, tfm, "TuplePool.NetnsRunner.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build tests/TuplePool.NetnsRunner first.", path);
    }

    private string[] ScenarioCommand(string scenario, (string Name, string Value)[] args)
    {
        var command = new List<string> { "netns", "exec", Name, DotnetHost(), RunnerPath(), scenario };
        foreach (var (name, value) in args)
        {
            command.Add($"--{name}");
            command.Add(value);
        }

        return [.. command];
    }

    // Namespaces of runs that were killed before their Dispose ran.
    private static void RemoveStale()
    {
        foreach (var line in Run("ip", ["netns", "list"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            var fields = name.Split('-');
            if (fields.Length == 4 && fields[0] == "tp" && int.TryParse(fields[2], CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                new Netns(name).Dispose();
            }
        }
    }

    private static string DotnetHost()
        => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
            : FindTool("dotnet") ?? "dotnet";

    private static bool IsRoot()
    {
        try
        {
            return File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string? FindTool(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    private static CommandResult Run(string file, string[] args, bool check = true, string? stdin = null)
        => RunAsync(file, args, check, stdin, TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();

    private static async Task<CommandResult> RunAsync(string file, string[] args, bool check, string? stdin, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(FindTool(file) ?? file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        using (var limit = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s");
            }
        }

        // ConfigureAwait(false) throughout: the synchronous Run waits on this method.
        var result = new CommandResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        if (check && result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({result.ExitCode}): {result.StandardError}{result.StandardOutput}");
        }

        return result;
    }

    /// <summary>Exit code and output of one command.</summary>
    public readonly record struct CommandResult(int ExitCode, string StandardOutput, string StandardError);
}
