using System.Diagnostics;
using System.Text.Json;

namespace TuplePool.Tests.Faults;

/// <summary>
/// A network namespace of the test's own (<c>ip netns</c>), and the fault runner started inside
/// it with <c>ip netns exec NS dotnet TuplePool.FaultRunner.dll SCENARIO</c>: the census, the
/// addresses and the sysctls a scenario changes are the namespace's, never the host's. Names carry
/// a per-run prefix (<c>tpf-PID-</c>); namespaces of runs that died are removed on the next one.
/// </summary>
public sealed class NetnsFixture : IDisposable
{
    private static int _counter;

    private NetnsFixture(string name) => Name = name;

    public string Name { get; }

    /// <summary>Why fault tests cannot run here, or null when they can.</summary>
    public static string? SkipReason { get; } = FindSkipReason();

    public static NetnsFixture Create()
    {
        RemoveStale();
        var name = $"tpf-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        Run("ip", $"netns add {name}");
        var fixture = new NetnsFixture(name);
        try
        {
            Run("ip", $"-n {name} link set lo up");

            // `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts: a name with two addresses.
            Directory.CreateDirectory($"/etc/netns/{name}");
            File.WriteAllText($"/etc/netns/{name}/hosts", "127.0.0.1 tpfault-dual\n::1 tpfault-dual\n");
            return fixture;
        }
        catch
        {
            fixture.Dispose();
            throw;
        }
    }

    /// <summary>Runs one scenario of the fault runner inside the namespace and returns its JSON report.</summary>
    public async Task<JsonElement> RunAsync(string scenario, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("ip", $"netns exec {Name} dotnet \"{RunnerPath}\" {scenario}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"fault runner '{scenario}' ran over 4 minutes; stderr: {await error}");
        }

        var text = (await output).Trim();
        var json = text.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        Assert.True(json is not null, $"fault runner '{scenario}' printed no report (exit {process.ExitCode}): {text} {await error}");
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    public void Dispose()
    {
        try
        {
            Run("ip", $"netns del {Name}");
        }
        finally
        {
            try
            {
                Directory.Delete($"/etc/netns/{Name}", recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    private static string RunnerPath
    {
        get
        {
            // tests/TuplePool.Tests/bin/CONFIG/TFM/ → tests/TuplePool.FaultRunner/bin/CONFIG/TFM/
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var tfm = here.Name;
            var configuration = here.Parent!.Name;
            var tests = here.Parent.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(tests, "TuplePool.FaultRunner", "bin", configuration, tfm, "TuplePool.FaultRunner.dll");
        }
    }

    private static string? FindSkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "Network namespaces are Linux only.";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "Creating network namespaces needs root (CI runs as root).";
        }

        foreach (var tool in new[] { "ip", "nft", "ss" })
        {
            if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, tool))))
            {
                return $"'{tool}' is missing: apt-get install -y iproute2 nftables.";
            }
        }

        if (!File.Exists(RunnerPath))
        {
            return $"The fault runner is not built ({RunnerPath}): build TuplePool.sln.";
        }

        return null;
    }

    // Namespaces left by a run that was killed before its finally blocks ran.
    private static void RemoveStale()
    {
        foreach (var line in Run("ip", "netns list").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            var parts = name.Split('-');
            if (parts.Length == 3 && parts[0] == "tpf" && int.TryParse(parts[1], out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    Run("ip", $"netns del {name}");
                    Directory.Delete($"/etc/netns/{name}", recursive: true);
                }
                catch (Exception e) when (e is InvalidOperationException or IOException)
                {
                }
            }
        }
    }

    private static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments}: {error.Trim()}");
        }

        return output;
    }
}
