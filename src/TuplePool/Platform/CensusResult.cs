using System.Globalization;

namespace TuplePool.Platform;

/// <summary>How a census backend answered.</summary>
internal enum CensusOutcome
{
    /// <summary>The answer is complete.</summary>
    Ok = 0,

    /// <summary>
    /// The backend cannot be used on this host (no permission, no inet_diag, a request it does
    /// not understand): asking again will not help, so the census stops trying it.
    /// </summary>
    Refused = 1,

    /// <summary>This attempt failed (out of memory or descriptors, a reply lost or cut short); the next may work.</summary>
    Failed = 2,
}

/// <summary>A backend's answer: ok, or why not, with the kernel's error number when there is one.</summary>
/// <param name="Outcome">Ok, refused or failed.</param>
/// <param name="Errno">The Linux error number (<c>EPERM</c> = 1, …); 0 when the failure has none.</param>
/// <param name="Detail">What failed, for a log line or the doctor; null when ok.</param>
internal readonly record struct CensusResult(CensusOutcome Outcome, int Errno, string? Detail)
{
    public static CensusResult Ok => default;

    public bool IsOk => Outcome == CensusOutcome.Ok;

    public static CensusResult Refused(int errno, string what) => new(CensusOutcome.Refused, errno, Describe(what, errno));

    public static CensusResult Failed(int errno, string what) => new(CensusOutcome.Failed, errno, Describe(what, errno));

    private static string Describe(string what, int errno)
        => errno == 0 ? what : string.Create(CultureInfo.InvariantCulture, $"{what}: {Errnos.Name(errno)} ({Errnos.Describe(errno)})");
}
