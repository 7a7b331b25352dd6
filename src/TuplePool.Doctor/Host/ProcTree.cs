using System.Security;
using TuplePool.Platform;

namespace TuplePool.Doctor.Host;

/// <summary>
/// <c>/proc</c> as a directory: the real one, or captured text under another root
/// (<c>--proc-root</c>) where <c>/proc/sys/net/ipv4/tcp_tw_reuse</c> is
/// <c>ROOT/sys/net/ipv4/tcp_tw_reuse</c>. Implements the library's <see cref="IProcFileSystem"/>
/// so its own readers (<see cref="KernelSettings"/>) run on the same files. Nothing here throws
/// for a missing or unreadable file: the doctor turns that into a warn line.
/// </summary>
internal sealed class ProcTree : IProcFileSystem
{
    private const string ProcPrefix = "/proc/";

    public ProcTree(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.TrimEndingDirectorySeparator(root);
    }

    /// <summary>The directory that stands for <c>/proc</c>.</summary>
    public string Root { get; }

    /// <summary>True when <see cref="Root"/> is the machine's own <c>/proc</c>.</summary>
    public bool IsLive => string.Equals(Root, "/proc", StringComparison.Ordinal);

    /// <summary>The file's text, or null when it is missing or cannot be read.</summary>
    /// <param name="path">A <c>/proc/...</c> path, as the kernel documents it.</param>
    public string? TryReadAllText(string path)
    {
        try
        {
            return File.ReadAllText(Map(path));
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            return null;
        }
    }

    /// <summary>Names of the numeric (process) directories; empty when the root cannot be listed.</summary>
    public IEnumerable<string> ProcessIds()
    {
        string[] entries;
        try
        {
            entries = Directory.GetDirectories(Root);
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            return [];
        }

        return entries.Select(Path.GetFileName).Where(static n => n is { Length: > 0 } && n.All(char.IsAsciiDigit))!;
    }

    /// <summary>The link targets in <c>/proc/PID/fd</c> (<c>socket:[12345]</c>, <c>/dev/null</c>, …); empty when not readable.</summary>
    public IReadOnlyList<string> FileDescriptorTargets(string pid)
    {
        var directory = Path.Combine(Root, pid, "fd");
        var targets = new List<string>();
        try
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                try
                {
                    if (new FileInfo(entry).LinkTarget is { } target)
                    {
                        targets.Add(target);
                    }
                }
                catch (Exception e) when (IsUnreadable(e))
                {
                    // The descriptor closed while we looked, or is not ours to read.
                }
            }
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            // Another user's process: only root (or ptrace rights) may read its descriptors.
        }

        return targets;
    }

    /// <summary>Where <paramref name="path"/> (<c>/proc/...</c>) lies under <see cref="Root"/>.</summary>
    public string Map(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.StartsWith(ProcPrefix, StringComparison.Ordinal)
            ? Path.Combine(Root, path[ProcPrefix.Length..])
            : path;
    }

    private static bool IsUnreadable(Exception e)
        => e is IOException or UnauthorizedAccessException or SecurityException or NotSupportedException or ArgumentException;
}
