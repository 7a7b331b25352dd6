using TuplePool.Platform;

namespace TuplePool;

// The kernel read behind the public PortRange.ReadSystem(), kept apart from the value's parsing
// and formatting in PortRange.cs.
public readonly partial record struct PortRange
{
    /// <summary>
    /// Reads the system ephemeral range from <c>/proc/sys/net/ipv4/ip_local_port_range</c>.
    /// Where that file cannot be read (not Linux, a restricted container) it returns the Linux
    /// default 32768–60999.
    /// </summary>
    public static PortRange ReadSystem() => KernelSettings.ReadPortRange(ProcFileSystem.Default, out _);
}
