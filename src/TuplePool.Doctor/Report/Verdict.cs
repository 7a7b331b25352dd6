namespace TuplePool.Doctor.Report;

/// <summary>How one line of the doctor's table judges the host.</summary>
internal enum Verdict
{
    /// <summary>Fine as it is.</summary>
    Ok,

    /// <summary>Works, but worth a look (a default that limits, a file that could not be read).</summary>
    Warn,

    /// <summary>Will cause failures: the doctor exits with 1.</summary>
    Fail,
}
