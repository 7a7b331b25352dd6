using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.ObjectPool;

namespace TuplePool.Benchmarks;

/// <summary>
/// <c>--idle-probe</c>: the idle-hit question with a Stopwatch and the thread's CPU clock, beside
/// BenchmarkDotNet. 1M acquire+dispose on one thread (ValidateOnAcquire = false) against 1M
/// <c>DefaultObjectPool&lt;object&gt;</c> Get+Return (default policy), in alternating rounds; the
/// CPU column does not move when the thread is descheduled, the wall column does.
/// <c>--loop pool|objectpool --seconds S</c> runs one side for a profiler.
/// </summary>
internal static class IdleProbe
{
    public const string Switch = "--idle-probe";

    private const int Operations = 1_000_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.SkipWhile(a => a != "--rounds").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(8);
        using var server = BenchmarkServer.StartSockets();
        var destination = server.Hold;
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            LocalPortRange = ClientPorts.IdleHit,
            ValidateOnAcquire = false,
            CloseMode = CloseMode.Abortive,
            IdleTimeout = TimeSpan.FromHours(1),
        });
        (await pool.AcquireAsync(destination)).Dispose();
        var objectPool = new DefaultObjectPool<object>(new DefaultPooledObjectPolicy<object>());
        Console.WriteLine($"DefaultObjectPool from {typeof(DefaultObjectPool<>).Assembly.Location} ({typeof(DefaultObjectPool<>).Assembly.GetName().Version})");

        var loop = args.SkipWhile(a => a != "--loop").Skip(1).FirstOrDefault();
        if (loop is not null)
        {
            var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(20);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                if (loop == "pool")
                {
                    PoolLoop(pool, destination);
                }
                else
                {
                    ObjectPoolLoop(objectPool);
                }
            }

            return 0;
        }

        // Warm-up past tiering (the loops are hot after the first call; tier-1 code comes ~100 ms later).
        for (var i = 0; i < 5; i++)
        {
            PoolLoop(pool, destination);
            ObjectPoolLoop(objectPool);
            await Task.Delay(200);
        }

        Console.WriteLine("| round | ObjectPool wall ns | CPU ns | SocketPool wall ns | CPU ns | ratio wall | ratio CPU |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        var wallRatios = new List<double>();
        var cpuRatios = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var (objectWall, objectCpu) = Time(() => ObjectPoolLoop(objectPool));
            var (poolWall, poolCpu) = Time(() => PoolLoop(pool, destination));
            wallRatios.Add(poolWall / objectWall);
            cpuRatios.Add(poolCpu / objectCpu);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {round} | {objectWall:F1} | {objectCpu:F1} | {poolWall:F1} | {poolCpu:F1} | {poolWall / objectWall:F2}× | {poolCpu / objectCpu:F2}× |"));
        }

        wallRatios.Sort();
        cpuRatios.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median ratio: wall {wallRatios[wallRatios.Count / 2]:F2}× (max {wallRatios[^1]:F2}×), CPU {cpuRatios[cpuRatios.Count / 2]:F2}× (max {cpuRatios[^1]:F2}×)"));
        return 0;
    }

    private static (double WallNs, double CpuNs) Time(Action body)
    {
        var cpu = CpuClock.ThreadNanoseconds();
        var start = Stopwatch.GetTimestamp();
        body();
        var wall = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Operations;
        return (wall, (CpuClock.ThreadNanoseconds() - cpu) / (double)Operations);
    }

    private static void ObjectPoolLoop(DefaultObjectPool<object> pool)
    {
        for (var i = Operations; i > 0; i--)
        {
            pool.Return(pool.Get());
        }
    }

    private static void PoolLoop(SocketPool pool, IPEndPoint destination)
    {
        for (var i = Operations; i > 0; i--)
        {
            var pending = pool.AcquireAsync(destination);
            if (!pending.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("An acquire missed the idle store.");
            }

            pending.Result.Dispose();
        }
    }
}
