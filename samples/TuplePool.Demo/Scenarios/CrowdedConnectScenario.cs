using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TuplePool.Demo.Loopback;
using TuplePool.Demo.Pictures;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Crowded connect: the cost of one connect() when thousands of connections to the same
/// destination are already open. A plain connect() searches even ports first, then odd ones; once
/// every even port is taken it walks all of them on each call. Linux 6.8 and later skip that
/// even/odd search on sockets that set IP_LOCAL_PORT_RANGE — which the pool does, with the system
/// range when no narrower one is configured. Three sides are timed in turn: a plain
/// <c>ConnectAsync</c>, the floor (<c>ConnectAsync</c> on a socket with IP_LOCAL_PORT_RANGE set to
/// the system range, what a careful user could write by hand), and the pool.
/// </summary>
internal static class CrowdedConnectScenario
{
    public const string Name = "crowded";
    private const string Title = "Crowded connect";

    /// <summary>Steps the crowd is opened in, each timed: the points of the picture's curve.</summary>
    private const int CurveSteps = 16;
    private static bool s_warm;

    public static async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var machine = context.Machine;
        var destination = context.Server.Hold;
        var crowdSize = CheckMachine(context);

        // The floor sets IP_LOCAL_PORT_RANGE by hand; a kernel without the option (< 6.3) has no floor but the plain connect.
        PortRange? floorRange = RawSocket.SupportsLocalPortRange(out _) ? machine.EphemeralRange : null;

        // The pool as a user would configure it for this: no sources (the kernel picks 127.0.0.1 like
        // the plain sockets), no range (the pool sets the system range itself on Linux >= 6.8).
        var pool = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive });
        await using (pool)
        {
            Progress.Line(Name, $"timing {Format.N(options.Samples)} connects per side to {destination}, each closed with RST right after");
            var (plainIdle, floorIdle, poolIdle) = await MeasureAsync(pool, destination, floorRange, options.Samples, cancellationToken);
            Progress.Line(Name, $"0 open:      plain median {Format.Micros(plainIdle.Median)}, floor {Format.Micros(floorIdle.Median)}, TuplePool median {Format.Micros(poolIdle.Median)}");

            var curve = new List<ConnectPoint> { new(0, plainIdle.Median, floorIdle.Median, poolIdle.Median) };
            var crowd = new List<Socket>(crowdSize);
            try
            {
                Progress.Line(Name, $"opening {Format.N(crowdSize)} plain connections to {destination} in {CurveSteps} steps, timing at each (the crowd; server side in child pid {context.Server.ProcessId}) ...");
                var clock = Stopwatch.StartNew();
                var slowest = TimeSpan.Zero;
                Samples plainCrowded = plainIdle, floorCrowded = floorIdle, poolCrowded = poolIdle;

                // The curve for the picture: the same three sides timed at every step of the crowd,
                // the last step giving the table's row.
                for (var step = 1; step <= CurveSteps; step++)
                {
                    slowest = OpenCrowd(crowd, (int)((long)crowdSize * step / CurveSteps), destination, cancellationToken);
                    context.Server.WaitForCount(crowd.Count, TimeSpan.FromSeconds(20));
                    (plainCrowded, floorCrowded, poolCrowded) = await MeasureAsync(pool, destination, floorRange, options.Samples, cancellationToken);
                    curve.Add(new ConnectPoint(crowd.Count, plainCrowded.Median, floorCrowded.Median, poolCrowded.Median));
                    Progress.Line(Name, $"  {Format.N(crowd.Count),6} open: plain median {Format.Micros(plainCrowded.Median)}, floor {Format.Micros(floorCrowded.Median)}, TuplePool {Format.Micros(poolCrowded.Median)}");
                }

                context.Pictures.SetConnectCurve(curve);
                Progress.Line(Name, $"crowd open in {Format.Seconds(clock.Elapsed)} with the timing (the last thousand took {Format.Seconds(slowest)})");
                Progress.Line(Name, $"{Format.N(crowd.Count)} open: plain median {Format.Micros(plainCrowded.Median)} (p90 {Format.Micros(plainCrowded.P90)}), "
                    + $"floor {Format.Micros(floorCrowded.Median)} (p90 {Format.Micros(floorCrowded.P90)}), "
                    + $"TuplePool median {Format.Micros(poolCrowded.Median)} (p90 {Format.Micros(poolCrowded.P90)})");

                var table = context.Table;
                table.Add(Title, "connect() median, 0 open", Format.Micros(plainIdle.Median), Format.Micros(poolIdle.Median), Faster(plainIdle.Median, poolIdle.Median));
                table.Add(Title, $"connect() median, {Format.N(crowd.Count)} open", Format.Micros(plainCrowded.Median), Format.Micros(poolCrowded.Median), Faster(plainCrowded.Median, poolCrowded.Median));
                table.Add(Title, $"connect() p90, {Format.N(crowd.Count)} open", Format.Micros(plainCrowded.P90), Format.Micros(poolCrowded.P90), Faster(plainCrowded.P90, poolCrowded.P90));
                table.Add(
                    Title,
                    $"floor median, {Format.N(crowd.Count)} open (plain column: ConnectAsync + IP_LOCAL_PORT_RANGE)",
                    Format.Micros(floorCrowded.Median),
                    Format.Micros(poolCrowded.Median),
                    $"{(poolCrowded.Median / floorCrowded.Median).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}x the floor");
                if (!machine.RangeOptionSkipsParitySearch)
                {
                    table.AddNote($"Crowded connect: Linux {machine.Kernel} is older than 6.8, where IP_LOCAL_PORT_RANGE also ends the even/odd port search; no gain is expected here.");
                }
                else if (crowd.Count <= machine.EphemeralRange.Count / 2)
                {
                    table.AddNote($"Crowded connect: {Format.N(crowd.Count)} open connections do not fill the even ports ({Format.N(machine.EphemeralRange.Count / 2)}); use a larger --crowd to see the slow search.");
                }
            }
            finally
            {
                foreach (var socket in crowd)
                {
                    RawSocket.CloseAbortive(socket);
                }

                context.Server.WaitForCount(0, TimeSpan.FromSeconds(20));
            }
        }
    }

    /// <summary>Opens the crowd up to <paramref name="size"/> with plain connect() calls; returns the time the last thousand (or fewer) took.</summary>
    private static TimeSpan OpenCrowd(List<Socket> crowd, int size, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (crowd.Count < size)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var socket = RawSocket.CreateTcp();
            try
            {
                // Linger {on, 0} at once: whatever way this process ends, the crowd goes away with RST.
                RawSocket.SetAbortiveClose(socket);
                socket.Connect(destination);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            crowd.Add(socket);
            if (crowd.Count == size - 1000)
            {
                clock.Restart();
            }

        }

        return clock.Elapsed;
    }

    /// <summary>Times plain, floor and pooled connects in turn, so any drift hits all sides alike.</summary>
    private static async Task<(Samples Plain, Samples Floor, Samples Pool)> MeasureAsync(SocketPool pool, IPEndPoint destination, PortRange? systemRange, int count, CancellationToken cancellationToken)
    {
        var plain = new double[count];
        var floor = new double[count];
        var pooled = new double[count];

        // Untimed rounds first, each followed by a pause: the runtime starts counting calls only
        // after 100 ms without new methods to compile, then compiles the hot ones again,
        // optimized, in the background; the pool's code is not precompiled like the framework's
        // socket code. Two rounds let that finish before the timed loop instead of during it.
        if (!s_warm)
        {
            for (var round = 0; round < 2; round++)
            {
                for (var i = 0; i < 100; i++)
                {
                    await PlainConnectAsync(destination, null, cancellationToken);
                    await PlainConnectAsync(destination, systemRange, cancellationToken);
                    await PooledConnectAsync(pool, destination, cancellationToken);
                }

                await Task.Delay(500, cancellationToken);
            }

            s_warm = true;
        }

        // The order turns every time: what an async connect leaves running for a moment (the
        // epoll thread, a thread-pool worker looking for more work) then weighs on each side alike.
        for (var i = 0; i < count; i++)
        {
            for (var turn = 0; turn < 3; turn++)
            {
                switch ((i + turn) % 3)
                {
                    case 0:
                        plain[i] = await PlainConnectAsync(destination, null, cancellationToken);
                        break;
                    case 1:
                        floor[i] = await PlainConnectAsync(destination, systemRange, cancellationToken);
                        break;
                    default:
                        pooled[i] = await PooledConnectAsync(pool, destination, cancellationToken);
                        break;
                }
            }
        }

        return (new Samples(plain), new Samples(floor), new Samples(pooled));
    }

    /// <summary>A bare socket's ConnectAsync; with <paramref name="range"/>, IP_LOCAL_PORT_RANGE is set first (the floor).</summary>
    /// <remarks>
    /// Timed from before the socket exists, as the pool's side is (its acquire creates the socket):
    /// a new connection costs the socket, its options and the connect. The close is not timed on either side.
    /// </remarks>
    private static async ValueTask<double> PlainConnectAsync(IPEndPoint destination, PortRange? range, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var socket = RawSocket.CreateTcp();
        try
        {
            if (range is { } r)
            {
                RawSocket.SetLocalPortRange(socket, r);
            }

            await socket.ConnectAsync(destination, cancellationToken);
            return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        finally
        {
            RawSocket.CloseAbortive(socket);
        }
    }

    private static async ValueTask<double> PooledConnectAsync(SocketPool pool, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var lease = await pool.AcquireAsync(destination, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;

        // Closed (RST) instead of returned, so the next acquire connects again.
        lease.Invalidate();
        lease.Dispose();
        return elapsed;
    }

    private static string Faster(double plain, double pool) => Format.Speed(plain, pool);

    private static int CheckMachine(DemoContext context)
    {
        var machine = context.Machine;
        var wanted = context.Options.Crowd;

        // The client half of the crowd lives in this process (the server half in the child); keep
        // room for the timed sockets, the pool and the runtime's own descriptors.
        var byFiles = machine.OpenFileLimit - 300;

        // The crowd must leave free ports in the range, or every timed connect fails.
        var byPorts = machine.EphemeralRange.Count - 1000;
        var size = Math.Min(wanted, Math.Min(byFiles, byPorts));
        if (size < 1000)
        {
            throw new ScenarioSkippedException(
                $"room for only {size:N0} open connections (open-file limit {machine.OpenFileLimit:N0}, ephemeral range {machine.EphemeralRange.Count:N0} ports)");
        }

        if (size < wanted)
        {
            Progress.Line(Name, $"--crowd {wanted:N0} does not fit (open-file limit {machine.OpenFileLimit:N0}, {machine.EphemeralRange.Count:N0} ephemeral ports): using {size:N0}");
        }

        return size;
    }

    private sealed class Samples
    {
        public Samples(double[] micros)
        {
            Array.Sort(micros);
            Median = micros[micros.Length / 2];
            P90 = micros[Math.Min(micros.Length - 1, (int)(micros.Length * 0.9))];
        }

        public double Median { get; }

        public double P90 { get; }
    }
}
