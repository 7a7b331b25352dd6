using BenchmarkDotNet.Running;
using TuplePool.Benchmarks;
using TuplePool.Demo.Loopback;

// Hidden child modes: the server half of the benchmarks' connections lives in another process,
// so the benchmark process holds (and allocates for) only the client side.
if (args.Length > 0 && args[0] == ServerHolder.Switch)
{
    return ServerHolder.Run(args);
}

// The plain Stopwatch harness: floor and pool in alternating rounds in this one process.
if (args.Length > 0 && args[0] == ConnectProbe.Switch)
{
    return await ConnectProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == IdleProbe.Switch)
{
    return await IdleProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == ReaperProbe.Switch)
{
    return await ReaperProbe.RunAsync(args);
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchmarkConfig.Create(args));
return summaries.Any(summary => summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success)) ? 1 : 0;
