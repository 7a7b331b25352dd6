using TuplePool.Platform;

namespace TuplePool.Tests.Support;

/// <summary>Fixed kernel settings for unit tests, so they do not depend on the machine's sysctls.</summary>
public static class TestKernel
{
    internal static KernelSettings Create(int twReuse = 0, PortRange? range = null, IReadOnlyList<PortRange>? reserved = null) => new()
    {
        PortRange = range ?? new PortRange(32768, 60999),
        ReservedPorts = reserved ?? [],
        TcpTwReuse = twReuse,
        TcpTwReuseDelay = TimeSpan.FromSeconds(1),
        KernelVersion = new Version(6, 18),
        IsLinux = true,
        Fallbacks = [],
    };
}
