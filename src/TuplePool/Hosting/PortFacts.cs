using TuplePool.Platform;

namespace TuplePool.Hosting;

/// <summary>
/// The kernel facts option validation needs: the system ephemeral range, the reserved ports in
/// it, and whether the kernel honours <c>IP_LOCAL_PORT_RANGE</c>. A small record rather than
/// <see cref="KernelSettings"/> itself so validation is tested with any kernel's facts.
/// </summary>
/// <param name="SystemRange"><c>net.ipv4.ip_local_port_range</c>.</param>
/// <param name="ReservedPorts"><c>net.ipv4.ip_local_reserved_ports</c>, as ranges.</param>
/// <param name="HonorsLocalPortRange">True on Linux ≥ 6.3.</param>
/// <param name="KernelVersion">For messages; null when unknown.</param>
internal sealed record PortFacts(PortRange SystemRange, IReadOnlyList<PortRange> ReservedPorts, bool HonorsLocalPortRange, Version? KernelVersion)
{
    /// <summary>
    /// The facts of this machine, or null when they are unknown (not Linux, or the port range
    /// could not be read): validation then skips the checks that need them rather than judge
    /// a range against a guessed default.
    /// </summary>
    public static PortFacts? ReadSystem()
    {
        var kernel = KernelSettings.Read(ProcFileSystem.Default);
        if (!kernel.IsLinux)
        {
            return null;
        }

        // A port range that fell back to the Linux default was not read from this machine.
        return kernel.PortRangeIsFallback
            ? null
            : new PortFacts(kernel.PortRange, kernel.ReservedPorts, kernel.SupportsLocalPortRange, kernel.KernelVersion);
    }

    /// <summary>How many ports of <paramref name="range"/> the kernel keeps out of automatic assignment.</summary>
    public int CountReservedIn(PortRange range) => KernelSettings.CountReservedIn(ReservedPorts, range);
}
