using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>nat-client --host H --port P --connect-timeout-ms T</c>, in a NAT lab client namespace:
/// plain sockets, no pool. Writes <c>{"ready": true}</c>, then answers each command on stdin
/// (ControlChannel) with one JSON line, holding every connection it opened until told to close it:
/// <list type="bullet">
/// <item><c>open N</c>: N connects at once (<see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>,
/// each cancelled after T): <c>connected</c>, <c>timedOut</c> (no answer within T: a SYN the NAT
/// dropped), <c>refused</c>, <c>otherErrors</c>, and each attempt's outcome and milliseconds; <c>held</c>.</item>
/// <item><c>echo</c>: one line sent and read back on every held connection: <c>echoed</c>, <c>failed</c>.</item>
/// <item><c>close N</c>: the N most recently opened connections closed gracefully (FIN).</item>
/// </list>
/// At the end of stdin it closes what it holds.
/// </summary>
internal static class NatClientScenario
{
    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args.Get("host")), args.GetInt("port"));
        var connectTimeout = TimeSpan.FromMilliseconds(args.GetInt("connect-timeout-ms"));
        var held = new List<Socket>();
        try
        {
            ControlChannel.Write(new JsonObject { ["ready"] = true });
            while (await ControlChannel.ReadAsync() is { } line)
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var reply = words switch
                {
                    ["open", var n] => await OpenAsync(server, Count(n), connectTimeout, held),
                    ["echo"] => await EchoAsync(held),
                    ["close", var n] => Close(held, Count(n)),
                    _ => new JsonObject { ["error"] = $"unknown command '{line}'; known: open N, echo, close N" },
                };
                ControlChannel.Write(reply);
            }

            return new JsonObject { ["closedAtEnd"] = held.Count };
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
    }

    private static int Count(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static async Task<JsonObject> OpenAsync(IPEndPoint server, int count, TimeSpan timeout, List<Socket> held)
    {
        var attempts = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => ConnectAsync(server, timeout)));
        var outcomes = new JsonArray();
        var otherErrors = new JsonArray();
        foreach (var (outcome, elapsed, socket) in attempts)
        {
            outcomes.Add(new JsonObject { ["outcome"] = outcome, ["ms"] = Math.Round(elapsed.TotalMilliseconds, 1) });
            if (socket is not null)
            {
                held.Add(socket);
            }
            else if (outcome is not ("timedOut" or "refused"))
            {
                otherErrors.Add(outcome);
            }
        }

        return new JsonObject
        {
            ["connected"] = attempts.Count(a => a.Socket is not null),
            ["timedOut"] = attempts.Count(a => a.Outcome == "timedOut"),
            ["refused"] = attempts.Count(a => a.Outcome == "refused"),
            ["otherErrors"] = otherErrors,
            ["attempts"] = outcomes,
            ["held"] = held.Count,
        };
    }

    private static async Task<(string Outcome, TimeSpan Elapsed, Socket? Socket)> ConnectAsync(IPEndPoint server, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var clock = Stopwatch.StartNew();
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(server, limit.Token);
            return ("connected", clock.Elapsed, socket);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            socket.Dispose();
            return ("timedOut", clock.Elapsed, null);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return (e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "refused",
                SocketError.TimedOut => "timedOut", // the kernel gave up on its own SYN retries
                _ => $"{e.SocketErrorCode}: {e.Message}",
            }, clock.Elapsed, null);
        }
    }

    private static async Task<JsonObject> EchoAsync(List<Socket> held)
    {
        var results = await Task.WhenAll(held.Select((socket, i) => LineEcho.TryAsync(socket, i)));
        return new JsonObject { ["echoed"] = results.Count(ok => ok), ["failed"] = results.Count(ok => !ok) };
    }

    private static JsonObject Close(List<Socket> held, int count)
    {
        var closing = Math.Min(count, held.Count);
        foreach (var socket in held.GetRange(held.Count - closing, closing))
        {
            socket.Dispose(); // nothing unread (echo reads every byte back): close() sends FIN, not RST
        }

        held.RemoveRange(held.Count - closing, closing);
        return new JsonObject { ["closed"] = closing, ["held"] = held.Count };
    }
}
