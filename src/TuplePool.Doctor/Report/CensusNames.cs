using TuplePool.Platform;

namespace TuplePool.Doctor.Report;

/// <summary>How the report names where the sockets were read from.</summary>
internal static class CensusNames
{
    /// <summary>The value of <c>socketCensus</c> in the JSON report.</summary>
    public static string Json(CensusBackend backend) => backend switch
    {
        CensusBackend.SockDiag => "sock_diag",
        CensusBackend.ProcNetTcp => "proc_net_tcp",
        _ => "unavailable",
    };

    /// <summary>The words at the end of the table's last line.</summary>
    public static string Text(CensusBackend backend) => backend switch
    {
        CensusBackend.SockDiag => "sockets through NETLINK_SOCK_DIAG",
        CensusBackend.ProcNetTcp => "sockets from /proc/net/tcp{,6}",
        _ => "no socket table",
    };
}
