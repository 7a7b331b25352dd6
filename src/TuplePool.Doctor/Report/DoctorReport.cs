using TuplePool.Platform;

namespace TuplePool.Doctor.Report;

/// <summary>Every finding of one run, in the order they were made.</summary>
internal sealed class DoctorReport
{
    private readonly List<Finding> _findings = [];

    public DoctorReport(string procRoot, CensusBackend socketCensus)
    {
        ProcRoot = procRoot;
        SocketCensus = socketCensus;
    }

    /// <summary>Where <c>/proc</c> was read from.</summary>
    public string ProcRoot { get; }

    /// <summary>Where the sockets were read from: netlink or <c>/proc/net/tcp{,6}</c>.</summary>
    public CensusBackend SocketCensus { get; }

    public IReadOnlyList<Finding> Findings => _findings;

    public void Add(Finding finding) => _findings.Add(finding);

    public int Count(Verdict verdict) => _findings.Count(f => f.Verdict == verdict);

    /// <summary>1 when any line failed, else 0 (2, bad input, never gets as far as a report).</summary>
    public int ExitCode => _findings.Any(static f => f.Verdict == Verdict.Fail) ? ExitCodes.Failed : ExitCodes.Ok;
}
