using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TuplePool.Demo.Loopback;
using TuplePool.Demo.Pictures;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Churn: a request/response loop against the echo server. Plain sockets open a connection per
/// request and close it (the client closes first, so each request leaves a TIME_WAIT that holds its
/// port); the pool lends the same few connections again and again.
/// </summary>
internal static class ChurnScenario
{
    public const string Name = "churn";
    private const string Title = "Churn";
    private const int Workers = 4;

    public static async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var range = options.Range;
        var destination = context.Server.Echo;
        if (!RawSocket.SupportsLocalPortRange(out var reason))
        {
            throw new ScenarioSkippedException(reason!);
        }

        var system = context.Machine.EphemeralRange;
        if (range.First < system.First || range.Last > system.Last)
        {
            throw new ScenarioSkippedException($"--range {range} is not inside this machine's ephemeral range {system}");
        }

        Progress.Line(
            Name,
            $"{Workers} workers, {EchoExchange.MessageSize}-byte request and echo to {destination}, up to {Format.N(options.Requests)} requests or {Format.Seconds(options.ChurnTime)} per side, client ports {range}");
        var timeWaitBefore = TimeWaitCounter.Count(range, destination.Port);

        // Plain sockets to 127.0.0.1 leave from 127.0.0.1 (the kernel's choice); the pool from its
        // sources: the picture counts each side's own TIME_WAIT, not what the other left behind.
        IPAddress[] plainSource = [IPAddress.Loopback];
        var plain = await RunLoopAsync(options, () => TimeWaitCounter.Count(range, destination.Port, plainSource), cancellationToken, PlainRequestAsync);
        var timeWaitAfter = TimeWaitCounter.Count(range, destination.Port);
        Progress.Line(Name, $"plain sockets: {plain.Describe()}"
            + (timeWaitAfter is { } after ? $"; {Format.N(after)} client ports now in TIME_WAIT" : string.Empty));

        var poolOptions = new TuplePoolOptions
        {
            LocalPortRange = range,
            AcquireTimeout = TimeSpan.FromSeconds(1),
        };
        foreach (var source in context.SourceAddresses)
        {
            poolOptions.SourceAddresses.Add(source);
        }

        ChurnResult pooled;
        var pool = new SocketPool(poolOptions);
        await using (pool)
        {
            pooled = await RunLoopAsync(options, () => TimeWaitCounter.Count(range, destination.Port, context.SourceAddresses.ToArray()), cancellationToken, PooledRequestAsync);
            var opened = pool.GetSnapshot().Tuples.Sum(t => t.Active + t.Idle);
            Progress.Line(Name, $"TuplePool:     {pooled.Describe()}; {Format.N(opened)} connections did all of it");
        }

        context.Pictures.SetChurn(plain.Timeline, pooled.Timeline);
        var table = context.Table;
        table.Add(Title, "requests/s", Format.N(plain.PerSecond), Format.N(pooled.PerSecond), Format.Speed(1 / plain.PerSecond, 1 / pooled.PerSecond));
        table.Add(Title, "requests done / failed", $"{Format.N(plain.Done)} / {Format.N(plain.Errors.Total)}", $"{Format.N(pooled.Done)} / {Format.N(pooled.Errors.Total)}");
        if (plain.Errors.Total > 0 || pooled.Errors.Total > 0)
        {
            table.Add(Title, "errors", plain.Errors.ToString(), pooled.Errors.ToString());
        }

        if (timeWaitBefore is > 0)
        {
            table.AddNote($"Churn: {Format.N(timeWaitBefore.Value)} client ports were already in TIME_WAIT from an earlier run (they last 60 s).");
        }

        async ValueTask PlainRequestAsync(Memory<byte> request, Memory<byte> response, CancellationToken token)
        {
            // What a client without a pool does: connect, one request, close. The close comes first
            // from this side, so the port stays in TIME_WAIT for 60 s (tcp_tw_reuse=2 lets loopback
            // take it back after about 1 s).
            using var socket = RawSocket.CreateTcp();
            RawSocket.SetLocalPortRange(socket, range);
            await socket.ConnectAsync(destination, token);
            await EchoExchange.RoundTripAsync(socket, request, response, token);
        }

        async ValueTask PooledRequestAsync(Memory<byte> request, Memory<byte> response, CancellationToken token)
        {
            using var lease = await pool.AcquireAsync(destination, token);
            try
            {
                await EchoExchange.RoundTripAsync(lease.Socket, request, response, token);
            }
            catch
            {
                // A half-done exchange leaves bytes in flight: never lend this socket again.
                lease.Invalidate();
                throw;
            }
        }
    }

    private static async Task<ChurnResult> RunLoopAsync(
        DemoOptions options,
        Func<int?> timeWait,
        CancellationToken cancellationToken,
        Func<Memory<byte>, Memory<byte>, CancellationToken, ValueTask> request)
    {
        var attempts = 0;
        var done = 0;
        var errors = new ErrorTally();
        var clock = Stopwatch.StartNew();
        var sampler = new ChurnSampler(() => Volatile.Read(ref done), timeWait);
        var workers = Enumerable.Range(0, Workers).Select(worker => Task.Run(
            async () =>
            {
                var sent = new byte[EchoExchange.MessageSize];
                var received = new byte[EchoExchange.MessageSize];
                while (Interlocked.Increment(ref attempts) <= options.Requests && clock.Elapsed < options.ChurnTime)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Random.Shared.NextBytes(sent);
                    try
                    {
                        await request(sent, received, cancellationToken);
                        if (!sent.AsSpan().SequenceEqual(received))
                        {
                            throw new InvalidDataException("the response was not this request's echo");
                        }

                        Interlocked.Increment(ref done);
                    }
                    catch (Exception e) when (e is SocketException or InvalidDataException)
                    {
                        errors.Add(e);
                    }
                }
            },
            cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(workers);
        }
        finally
        {
            await sampler.DisposeAsync();
        }

        return new ChurnResult(done, errors, clock.Elapsed, sampler.Points);
    }

    private sealed record ChurnResult(int Done, ErrorTally Errors, TimeSpan Elapsed, IReadOnlyList<ChurnPoint> Timeline)
    {
        public double PerSecond => Done / Elapsed.TotalSeconds;

        public string Describe() =>
            $"{Format.N(Done)} requests in {Format.Seconds(Elapsed)} = {Format.N(PerSecond)}/s, {Format.N(Errors.Total)} failed"
            + (Errors.Total > 0 ? $" ({Errors})" : string.Empty);
    }
}
