using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Perfolizer.Horology;
using BenchmarkDotNet.Jobs;

namespace TuplePool.Benchmarks;

/// <summary>
/// A short default job, so the whole suite runs in minutes on two cores: one launch, a few
/// warmups, fifteen 250 ms iterations. <c>--job short</c> (or any other <c>--job</c>) replaces it.
/// </summary>
internal static class BenchmarkConfig
{
    public static IConfig Create(string[] args)
    {
        // The median next to the mean: on a shared two-core machine a few slow iterations move the
        // mean more than they move the median.
        // The generated runner project builds in minutes, not seconds, while other work shares the two cores.
        var config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median).WithBuildTimeout(TimeSpan.FromMinutes(10));
        if (args.Any(a => a is "--job" or "-j"))
        {
            return config;
        }

        return config.AddJob(Job.Default
            .WithId("Fast")
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(15)
            .WithIterationTime(TimeInterval.FromMilliseconds(250))
            .AsDefault());
    }
}
