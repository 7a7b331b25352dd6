using BenchmarkDotNet.Configs;
using Perfolizer.Horology;
using BenchmarkDotNet.Jobs;

namespace TuplePool.Benchmarks;

/// <summary>
/// A short default job, so the whole suite runs in minutes on two cores: one launch, a few
/// warmups, ten 250 ms iterations. <c>--job short</c> (or any other <c>--job</c>) replaces it.
/// </summary>
internal static class BenchmarkConfig
{
    public static IConfig Create(string[] args)
    {
        var config = DefaultConfig.Instance;
        if (args.Any(a => a is "--job" or "-j"))
        {
            return config;
        }

        return config.AddJob(Job.Default
            .WithId("Fast")
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(10)
            .WithIterationTime(TimeInterval.FromMilliseconds(250))
            .AsDefault());
    }
}
