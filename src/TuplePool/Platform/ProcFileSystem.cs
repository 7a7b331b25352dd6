using System.Security;

namespace TuplePool.Platform;

/// <summary>The real <c>/proc</c>.</summary>
internal sealed class ProcFileSystem : IProcFileSystem
{
    public static readonly ProcFileSystem Default = new();

    public string? TryReadAllText(string path)
    {
        // Elsewhere a file named /proc/... is not the kernel's answer even if it happens to exist.
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            // /proc files report a length of 0; ReadAllText reads to end of file regardless.
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SecurityException or NotSupportedException or ArgumentException)
        {
            // Missing (older kernel, no IPv6), hidden by a container's mask, or not readable.
            return null;
        }
    }
}
