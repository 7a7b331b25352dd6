using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// The child-process side (<c>--serve</c>): a hold listener and an echo listener on 127.0.0.1
/// (or the address given after the port: <c>0.0.0.0</c> accepts connections to every address
/// of 127/8), ports below 32768. The server half of thousands of connections lives here because one
/// process may hold at most 20,000 descriptors and a crowd of 16,000 needs 32,000.
/// </summary>
/// <remarks>
/// Talks to its parent over stdin/stdout, one line each: it prints
/// <c>READY hold=PORT echo=PORT</c>, then answers <c>count</c> with <c>COUNT hold=N echo=N</c>,
/// <c>reset</c> (abort every held connection) with <c>OK</c>, and exits on <c>quit</c> or when
/// stdin ends — which is also what happens when the parent dies in any way, even SIGKILL, so the
/// child never outlives it. Every accepted socket lingers {on, 0}: whoever dies first, the other
/// side sees RST and no TIME_WAIT is left behind.
/// </remarks>
internal static class ServerHolder
{
    public const string Switch = "--serve";

    private const int Backlog = 4096;

    private static readonly ConcurrentDictionary<Socket, byte> s_held = new();
    private static readonly ConcurrentDictionary<Socket, byte> s_echoing = new();

    /// <summary>Entry point of the child; <paramref name="args"/> is <c>--serve [firstPort [listenAddress]]</c>.</summary>
    public static int Run(string[] args)
    {
        // Ctrl+C in a terminal signals the whole process group, this child too. The parent then
        // closes its connections and tells the child to quit; dying first would only make the
        // parent's last commands fail.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, static context => context.Cancel = true);

        var firstPort = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 16000;
        var listenOn = args.Length > 2 ? IPAddress.Parse(args[2]) : IPAddress.Loopback;
        using var hold = ListenerPorts.Bind(listenOn, firstPort, Backlog);
        using var echo = ListenerPorts.Bind(listenOn, ((IPEndPoint)hold.LocalEndPoint!).Port + 1, Backlog);

        // Two accept loops on the hold listener: a crowd of 16,000 arrives faster than one loop accepts.
        _ = Task.Run(() => AcceptLoopAsync(hold, HoldAsync));
        _ = Task.Run(() => AcceptLoopAsync(hold, HoldAsync));
        _ = Task.Run(() => AcceptLoopAsync(echo, EchoAsync));

        var output = Console.Out;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"READY hold={((IPEndPoint)hold.LocalEndPoint!).Port} echo={((IPEndPoint)echo.LocalEndPoint!).Port}"));
        output.Flush();

        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            switch (line.Trim())
            {
                case "count":
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"COUNT hold={s_held.Count} echo={s_echoing.Count}"));
                    break;
                case "reset":
                    AbortAll(s_held);
                    output.WriteLine("OK");
                    break;
                case "quit":
                    AbortAll(s_held);
                    AbortAll(s_echoing);
                    return 0;
                default:
                    output.WriteLine("ERROR unknown command");
                    break;
            }

            output.Flush();
        }

        // stdin ended: the parent is gone.
        AbortAll(s_held);
        AbortAll(s_echoing);
        return 0;
    }

    private static async Task AcceptLoopAsync(Socket listener, Func<Socket, Task> serve)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException)
            {
                // EMFILE and friends: back off instead of spinning; the parent sees its connects stall.
                await Task.Delay(10);
                continue;
            }

            _ = serve(socket);
        }
    }

    private static async Task HoldAsync(Socket socket)
    {
        s_held.TryAdd(socket, 0);
        try
        {
            RawSocket.SetAbortiveClose(socket);

            // A zero-byte receive waits for readability without tying up a buffer per connection:
            // then a real read tells data (discarded) from EOF or RST (close our side).
            var scratch = new byte[64];
            while (true)
            {
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                if (await socket.ReceiveAsync(scratch, SocketFlags.None) == 0)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset by the client, or aborted by "reset".
        }
        finally
        {
            s_held.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private static async Task EchoAsync(Socket socket)
    {
        s_echoing.TryAdd(socket, 0);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            RawSocket.SetAbortiveClose(socket);
            socket.NoDelay = true;
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                if (read == 0)
                {
                    // The client closed first (its side keeps the TIME_WAIT, as a real client's would):
                    // close ours normally so the client reads no RST.
                    socket.LingerState = new LingerOption(false, 0);
                    break;
                }

                await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset by the client.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            s_echoing.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private static void AbortAll(ConcurrentDictionary<Socket, byte> sockets)
    {
        foreach (var socket in sockets.Keys)
        {
            RawSocket.CloseAbortive(socket);
        }
    }
}
