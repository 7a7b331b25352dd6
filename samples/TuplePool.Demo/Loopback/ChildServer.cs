using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// The parent's handle on a <see cref="ServerHolder"/> child: this program's own executable
/// started again with <c>--serve</c>. Dispose stops it; so does the end of this process on any
/// path (the child exits when its stdin closes, and ProcessExit kills whatever is left).
/// </summary>
internal sealed class ChildServer : IDisposable
{
    private static readonly ConcurrentDictionary<Process, byte> s_live = new();
    private static int s_exitHookInstalled;

    private readonly Process _process;
    private readonly object _gate = new();
    private bool _disposed;

    private ChildServer(Process process, IReadOnlyDictionary<string, int> ports)
    {
        _process = process;
        Ports = ports;
    }

    /// <summary>The ports the child listens on (keys as in its READY line: <c>hold</c>, <c>echo</c>, ...).</summary>
    public IReadOnlyDictionary<string, int> Ports { get; }

    /// <summary>The child's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>127.0.0.1 and the child's hold port: accepts and holds connections until the client closes.</summary>
    public IPEndPoint Hold => new(IPAddress.Loopback, Ports["hold"]);

    /// <summary>127.0.0.1 and the child's echo port: writes back whatever it reads.</summary>
    public IPEndPoint Echo => new(IPAddress.Loopback, Ports["echo"]);

    /// <summary>
    /// Starts this program again with <paramref name="arguments"/> (or, with
    /// <paramref name="assembly"/>, that .NET program under <c>dotnet exec</c>) and waits for its READY line.
    /// </summary>
    public static ChildServer Start(IReadOnlyList<string> arguments, TimeSpan readyTimeout, string? assembly = null)
    {
        if (Interlocked.Exchange(ref s_exitHookInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += static (_, _) => KillAll();
        }

        var startInfo = assembly is null ? SelfStartInfo(arguments) : DotnetExecStartInfo(assembly, arguments);
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {startInfo.FileName}.");
        s_live.TryAdd(process, 0);
        try
        {
            var stderr = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();

            var readLine = process.StandardOutput.ReadLineAsync();
            if (!readLine.Wait(readyTimeout) || readLine.Result is not { } ready || !ready.StartsWith("READY ", StringComparison.Ordinal))
            {
                process.WaitForExit(500);
                string detail;
                lock (stderr)
                {
                    detail = stderr.ToString().Trim();
                }

                throw new InvalidOperationException(
                    $"The server child process ({startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}) did not report READY"
                    + (detail.Length > 0 ? $": {detail}" : "."));
            }

            var ports = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var pair in ready["READY ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                ports[pair[..equals]] = int.Parse(pair[(equals + 1)..], CultureInfo.InvariantCulture);
            }

            return new ChildServer(process, ports);
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    /// <summary>How many connections the child holds open on its listener <paramref name="key"/>.</summary>
    public int Count(string key = "hold")
    {
        var reply = Ask("count");
        foreach (var pair in reply["COUNT ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pair.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return int.Parse(pair[(key.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"The server child did not report '{key}': {reply}");
    }

    /// <summary>Polls <see cref="Count"/> until the child holds <paramref name="expected"/> connections or the time is up.</summary>
    public bool WaitForCount(int expected, TimeSpan timeout, string key = "hold")
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (Count(key) == expected)
            {
                return true;
            }

            Thread.Sleep(20);
        }

        return Count(key) == expected;
    }

    /// <summary>The child aborts (RST) every connection it holds.</summary>
    public void Reset() => Ask("reset");

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        try
        {
            _process.StandardInput.WriteLine("quit");
            _process.StandardInput.Close();
            if (!_process.WaitForExit(3000))
            {
                Kill(_process);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            Kill(_process);
        }
        finally
        {
            s_live.TryRemove(_process, out _);
            _process.Dispose();
        }
    }

    private string Ask(string command)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                _process.StandardInput.WriteLine(command);
                _process.StandardInput.Flush();
                if (_process.StandardOutput.ReadLine() is { } reply)
                {
                    return reply;
                }
            }
            catch (IOException)
            {
                // Broken pipe: the child is gone; say so below.
            }

            _process.WaitForExit(1000);
            throw new InvalidOperationException(
                $"The loopback server child process {_process.Id} has exited"
                + (_process.HasExited ? $" with code {_process.ExitCode}." : "."));
        }
    }

    private static void KillAll()
    {
        foreach (var process in s_live.Keys)
        {
            Kill(process);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// How to start the assembly that holds <see cref="ServerHolder"/> again. From its apphost that is
    /// simply the same executable; under <c>dotnet app.dll</c>, or inside a host that loaded this
    /// assembly as a library (BenchmarkDotNet's generated runner), the dotnet host runs this
    /// assembly's <c>Main</c> with its own runtimeconfig, or with the current process's one.
    /// </summary>
    private static ProcessStartInfo SelfStartInfo(IReadOnlyList<string> arguments)
    {
        var self = typeof(ChildServer).Assembly.Location;
        var entry = Assembly.GetEntryAssembly()?.Location;
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var hostIsDotnet = string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase);

        ProcessStartInfo startInfo;
        if (!hostIsDotnet && string.Equals(entry, self, StringComparison.Ordinal))
        {
            startInfo = new ProcessStartInfo(processPath);
        }
        else
        {
            startInfo = new ProcessStartInfo(hostIsDotnet ? processPath : FindDotnetHost());
            startInfo.ArgumentList.Add("exec");
            var ownConfig = Path.ChangeExtension(self, ".runtimeconfig.json");
            if (!File.Exists(ownConfig) && entry is not null)
            {
                startInfo.ArgumentList.Add("--runtimeconfig");
                startInfo.ArgumentList.Add(Path.ChangeExtension(entry, ".runtimeconfig.json"));
            }

            startInfo.ArgumentList.Add(self);
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        return startInfo;
    }

    private static ProcessStartInfo DotnetExecStartInfo(string assembly, IReadOnlyList<string> arguments)
    {
        var processPath = Environment.ProcessPath;
        var hostIsDotnet = processPath is not null && string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase);
        var startInfo = new ProcessStartInfo(hostIsDotnet ? processPath! : FindDotnetHost());
        startInfo.ArgumentList.Add("exec");
        startInfo.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        return startInfo;
    }

    private static string FindDotnetHost()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            Environment.GetEnvironmentVariable("DOTNET_ROOT") is { } root ? Path.Combine(root, name) : null,

            // .../dotnet/shared/Microsoft.NETCore.App/<version>/ → .../dotnet/dotnet
            Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", name)),
        };
        foreach (var candidate in candidates)
        {
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return name;
    }
}
