using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using TuplePool.Demo.Loopback;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Capacity: how many connections to one destination can be open at once. Plain sockets share one
/// source address, so the port range is the ceiling (then EADDRNOTAVAIL); the pool spreads over
/// several source addresses, each with the full range, and never lets a connect fail for lack of
/// ports.
/// </summary>
internal static class CapacityScenario
{
    public const string Name = "capacity";
    private const string Title = "Capacity";
    private const int Parallelism = 16;

    public static async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var range = options.Range;
        var target = options.CapacityConnections;
        var destination = context.Server.Hold;
        CheckMachine(context, target);

        Progress.Line(Name, $"{Format.N(target)} connections held open at once to {destination}, client ports {range} ({Format.N(range.Count)}) set per socket on both sides");

        // Plain sockets: the kernel picks the source (127.0.0.1) and the port.
        var plainSockets = new ConcurrentQueue<Socket>();
        var plainErrors = new ErrorTally();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(
            Enumerable.Range(1, target),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (_, token) =>
            {
                var socket = RawSocket.CreateTcp();
                try
                {
                    RawSocket.SetLocalPortRange(socket, range);
                    RawSocket.SetAbortiveClose(socket);
                    await socket.ConnectAsync(destination, token);
                    plainSockets.Enqueue(socket);
                }
                catch (SocketException e)
                {
                    plainErrors.Add(e);
                    socket.Dispose();
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            });
        var plainTime = clock.Elapsed;
        var plainHeld = plainSockets.Count;
        var serverSawPlain = context.Server.WaitForCount(plainHeld, TimeSpan.FromSeconds(10));
        Progress.Line(
            Name,
            $"plain sockets: {Format.N(plainHeld)} open in {Format.Seconds(plainTime)}; {Format.N(plainErrors.Total)} connects failed"
            + (plainErrors.Total > 0 ? $" ({plainErrors}): the port range is full" : string.Empty)
            + (serverSawPlain ? string.Empty : " (the server did not see them all)"));

        foreach (var socket in plainSockets)
        {
            RawSocket.CloseAbortive(socket);
        }

        context.Server.WaitForCount(0, TimeSpan.FromSeconds(10));

        // TuplePool: same destination, same port range, several source addresses.
        var poolOptions = new TuplePoolOptions
        {
            LocalPortRange = range,
            CloseMode = CloseMode.Abortive,
            AcquireTimeout = TimeSpan.FromSeconds(1),
        };
        foreach (var source in context.SourceAddresses)
        {
            poolOptions.SourceAddresses.Add(source);
        }

        var leases = new ConcurrentQueue<SocketLease>();
        var poolErrors = new ErrorTally();
        TimeSpan poolTime;
        TuplePoolSnapshot snapshot;
        var pool = new SocketPool(poolOptions);
        await using (pool)
        {
            clock.Restart();
            await Parallel.ForEachAsync(
                Enumerable.Range(1, target),
                new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                async (_, token) =>
                {
                    try
                    {
                        leases.Enqueue(await pool.AcquireAsync(destination, token));
                    }
                    catch (SocketException e)
                    {
                        poolErrors.Add(e);
                    }
                });
            poolTime = clock.Elapsed;
            snapshot = pool.GetSnapshot();
            var serverSawPool = context.Server.WaitForCount(leases.Count, TimeSpan.FromSeconds(10));
            Progress.Line(
                Name,
                $"TuplePool:     {Format.N(leases.Count)} open in {Format.Seconds(poolTime)}; {Format.N(poolErrors.Total)} failed"
                + (poolErrors.Total > 0 ? $" ({poolErrors})" : string.Empty)
                + (serverSawPool ? string.Empty : " (the server did not see them all)"));
            foreach (var tuple in snapshot.Tuples)
            {
                Progress.Line(Name, $"  {tuple.Source,-11} -> {tuple.Destination}: {Format.N(tuple.Active)} active of {Format.N(tuple.Capacity)}");
            }

            foreach (var lease in leases)
            {
                lease.Invalidate();
                lease.Dispose();
            }
        }

        context.Server.WaitForCount(0, TimeSpan.FromSeconds(10));

        var table = context.Table;
        table.Add(Title, $"open at once (asked {Format.N(target)})", Format.N(plainHeld), Format.N(leases.Count), Ratio(leases.Count, plainHeld));
        table.Add(Title, "failed connects", plainErrors.ToString(), poolErrors.ToString());
        table.Add(Title, "sources x ports", $"1 x {Format.N(range.Count)}", $"{context.SourceAddresses.Count} x {Format.N(range.Count)}");
    }

    private static string Ratio(int pool, int plain) => plain == 0 ? string.Empty : Format.Ratio((double)pool / plain) + " as many";

    private static void CheckMachine(DemoContext context, int target)
    {
        if (!RawSocket.SupportsLocalPortRange(out var reason))
        {
            throw new ScenarioSkippedException(reason!);
        }

        foreach (var source in context.SourceAddresses)
        {
            if (!RawSocket.CanBind(source, out reason))
            {
                throw new ScenarioSkippedException(reason + "; on Linux all of 127.0.0.0/8 is local, elsewhere add the addresses or use --sources 1");
            }
        }

        var system = context.Machine.EphemeralRange;
        var range = context.Options.Range;
        if (range.First < system.First || range.Last > system.Last)
        {
            throw new ScenarioSkippedException(
                $"--range {range} is not inside this machine's ephemeral range {system} (net.ipv4.ip_local_port_range); the kernel would ignore it");
        }

        // Only the client side lives in this process; the server side is in the child.
        var limit = context.Machine.OpenFileLimit - 200;
        if (target > limit)
        {
            throw new ScenarioSkippedException(
                $"{target:N0} connections need {target:N0} open files here, the limit is {context.Machine.OpenFileLimit:N0}: use --connections {limit} or fewer");
        }
    }
}
