using System.Globalization;

namespace TuplePool.Platform;

/// <summary>A backend's answer: ok, or why not, with the kernel's error number when there is one.</summary>
/// <param name="Status">Ok, refused or failed.</param>
/// <param name="Errno">The Linux error number (<c>EPERM</c> = 1, …); 0 when the failure has none.</param>
/// <param name="Detail">What failed, for a log line or the doctor; null when ok.</param>
internal readonly record struct CensusResult(CensusStatus Status, int Errno, string? Detail)
{
    public static CensusResult Ok => default;

    public bool IsOk => Status == CensusStatus.Ok;

    public static CensusResult Refused(int errno, string what) => new(CensusStatus.Refused, errno, Describe(what, errno));

    public static CensusResult Failed(int errno, string what) => new(CensusStatus.Failed, errno, Describe(what, errno));

    private static string Describe(string what, int errno)
        => errno == 0 ? what : string.Create(CultureInfo.InvariantCulture, $"{what}: {Errnos.Name(errno)} ({Errnos.Describe(errno)})");
}
