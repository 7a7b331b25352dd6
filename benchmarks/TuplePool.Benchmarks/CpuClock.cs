using System.Runtime.InteropServices;

namespace TuplePool.Benchmarks;

/// <summary>
/// CPU time (Linux): what a stage costs in CPU, which on a shared machine moves less than the
/// wall time (a descheduled thread adds wall time, not CPU time).
/// </summary>
internal static partial class CpuClock
{
    private const int ClockThreadCpuTime = 3;
    private const int RusageSelf = 0;

    /// <summary>This thread's CPU time in ns (<c>CLOCK_THREAD_CPUTIME_ID</c>).</summary>
    public static long ThreadNanoseconds()
    {
        ClockGetTime(ClockThreadCpuTime, out var ts);
        return (ts.Seconds * 1_000_000_000) + ts.Nanoseconds;
    }

    /// <summary>User + system CPU time of the whole process in µs (<c>getrusage(RUSAGE_SELF)</c>): every thread, the epoll thread included.</summary>
    public static double ProcessMicroseconds()
    {
        GetRusage(RusageSelf, out var usage);
        return (usage.UserSeconds * 1e6) + usage.UserMicros + (usage.SystemSeconds * 1e6) + usage.SystemMicros;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec value);

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage value);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // struct rusage: two timevals, then 14 longs.
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Rusage
    {
        public long UserSeconds;
        public long UserMicros;
        public long SystemSeconds;
        public long SystemMicros;
        public fixed long Rest[14];
    }
}
