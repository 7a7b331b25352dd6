using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace TuplePool.Tests.Support;

/// <summary>
/// A scenario of TuplePool.NetnsRunner that keeps running inside its namespace (a server, a client
/// holding connections), started by <see cref="Netns.StartScenario"/>: the test writes one command a
/// line to its stdin and reads one JSON object a line back. Dispose kills it if it still runs; a
/// scenario also stops when its stdin ends, so one left by a test process that died ends with it.
/// </summary>
public sealed class RunningScenario : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _errors = new();

    private RunningScenario(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    /// <summary>Scenario and namespace, for messages.</summary>
    public string Description { get; }

    /// <summary>The runner's process id (<c>ip netns exec</c> became the runner).</summary>
    public int ProcessId { get; private init; }

    internal static RunningScenario Start(ProcessStartInfo start, string description)
    {
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{description} did not start");
        var running = new RunningScenario(process, description) { ProcessId = process.Id };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (running._errors)
            {
                running._errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        return running;
    }

    /// <summary>The next JSON line it writes; throws with its stderr when it ends, reports an error, or stays silent past <paramref name="timeout"/>.</summary>
    public async Task<JsonObject> ReadAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line;
            try
            {
                line = await _process.StandardOutput.ReadLineAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Description} wrote nothing for {timeout.TotalSeconds} s.{Errors()}");
            }

            if (line is null)
            {
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                throw new InvalidOperationException($"{Description} ended (exit {_process.ExitCode}) without an answer.{Errors()}");
            }

            if (!line.StartsWith('{'))
            {
                continue; // not the scenario's (the host's own notices)
            }

            var reply = JsonNode.Parse(line) as JsonObject ?? throw new InvalidOperationException($"{Description} wrote '{line}', not a JSON object.");
            return reply.ContainsKey("error")
                ? throw new InvalidOperationException($"{Description} reported: {reply["error"]}{Errors()}")
                : reply;
        }
    }

    /// <summary>Writes <paramref name="command"/> as one line and returns the JSON line that answers it.</summary>
    public async Task<JsonObject> SendAsync(string command, TimeSpan timeout)
    {
        await _process.StandardInput.WriteLineAsync(command).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
        return await ReadAsync(timeout).ConfigureAwait(false);
    }

    /// <summary>Ends its stdin and returns its last JSON line (the runner's result) once it has exited.</summary>
    public async Task<JsonObject> StopAsync(TimeSpan timeout)
    {
        _process.StandardInput.Close();
        var last = await ReadAsync(timeout).ConfigureAwait(false);
        using var limit = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        return last;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        _process.Dispose();
    }

    private string Errors()
    {
        lock (_errors)
        {
            return _errors.Length == 0 ? string.Empty : $"\nstderr:\n{_errors}";
        }
    }
}
