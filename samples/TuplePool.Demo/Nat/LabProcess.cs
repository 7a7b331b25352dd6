using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;

namespace TuplePool.Demo.Nat;

/// <summary>
/// A process inside a lab namespace (<c>ip netns exec NS ...</c>, which execs the command in
/// place): this program in a <see cref="NatChild"/> mode, or a server under a shell. It talks one
/// line each way (JSON from the demo's own modes) and ends when its stdin closes, so it never
/// outlives the demo, even one killed with SIGKILL; Dispose closes stdin and kills what is left.
/// </summary>
internal sealed class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private readonly string _description;

    private LabProcess(Process process, string description)
    {
        _process = process;
        _description = description;
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_errors)
            {
                _errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
    }

    /// <summary>This program, in <see cref="NatChild"/> mode <paramref name="arguments"/>, inside <paramref name="ns"/>.</summary>
    public static LabProcess Start(string ns, string[] arguments)
        => Launch(ns, [.. SelfCommand(), NatChild.Switch, .. arguments], $"{string.Join(' ', arguments.Take(1))} in {ns}");

    /// <summary>
    /// Another program inside <paramref name="ns"/>, under a shell that kills it when stdin closes
    /// (the program itself would not notice the demo's end).
    /// </summary>
    public static LabProcess StartCommand(string ns, string[] command)
        => Launch(ns, ["/bin/sh", "-c", "\"$0\" \"$@\" >/dev/null 2>&1 & cat >/dev/null; kill -9 $! 2>/dev/null", .. command], $"{Path.GetFileName(command[0])} in {ns}");

    /// <summary>The next JSON line it writes; throws with its stderr when it ends first or stays silent past <paramref name="timeout"/>.</summary>
    public async Task<JsonObject> ReadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        while (true)
        {
            string? line;
            try
            {
                line = await _process.StandardOutput.ReadLineAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{_description} wrote nothing for {timeout.TotalSeconds} s.{Errors()}");
            }

            if (line is null)
            {
                cancellationToken.ThrowIfCancellationRequested(); // Ctrl+C removed the lab, and this process with it
                throw new InvalidOperationException($"{_description} ended without an answer.{Errors()}");
            }

            if (line.StartsWith('{'))
            {
                var reply = (JsonObject)JsonNode.Parse(line)!;
                return reply["error"] is { } error ? throw new InvalidOperationException($"{_description}: {error}") : reply;
            }
        }
    }

    /// <summary>Writes one line to its stdin.</summary>
    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(3000))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(3000);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private static LabProcess Launch(string ns, string[] command, string description)
    {
        var start = new ProcessStartInfo(DemoNatLab.Tool("ip") ?? "ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["netns", "exec", ns, .. command])
        {
            start.ArgumentList.Add(argument);
        }

        return new LabProcess(Process.Start(start) ?? throw new InvalidOperationException($"{description} did not start"), description);
    }

    /// <summary>This program again: its apphost, or <c>dotnet exec</c> with its dll when it runs under the dotnet host.</summary>
    private static string[] SelfCommand()
    {
        var self = typeof(LabProcess).Assembly.Location;
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var underDotnet = string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase);
        return !underDotnet && string.Equals(Assembly.GetEntryAssembly()?.Location, self, StringComparison.Ordinal)
            ? [processPath]
            : [underDotnet ? processPath : "dotnet", "exec", self];
    }

    private string Errors()
    {
        lock (_errors)
        {
            var text = _errors.ToString().Trim();
            return text.Length == 0 ? string.Empty : $" stderr: {text}";
        }
    }
}
