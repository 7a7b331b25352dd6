namespace TuplePool.Doctor.Host;

/// <summary>A process that holds a socket: what <c>/proc/PID/fd</c> and <c>/proc/PID/comm</c> tell.</summary>
internal readonly record struct ProcessOwner(int Pid, string Name);

/// <summary>
/// Finds which process holds a socket inode by reading the <c>socket:[INODE]</c> links in every
/// <c>/proc/PID/fd</c>. Other users' processes are readable only as root (or with ptrace rights),
/// so a socket may stay without an owner.
/// </summary>
internal static class ProcessOwners
{
    public static Dictionary<ulong, ProcessOwner> Find(ProcTree tree, IReadOnlyCollection<ulong> inodes)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(inodes);
        var owners = new Dictionary<ulong, ProcessOwner>();
        var wanted = inodes.Where(static i => i != 0).ToHashSet();
        if (wanted.Count == 0)
        {
            return owners;
        }

        foreach (var pid in tree.ProcessIds())
        {
            foreach (var target in tree.FileDescriptorTargets(pid))
            {
                if (TryParseSocketInode(target, out var inode) && wanted.Contains(inode) && !owners.ContainsKey(inode))
                {
                    var name = tree.TryReadAllText($"/proc/{pid}/comm")?.Trim();
                    owners[inode] = new ProcessOwner(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture), string.IsNullOrEmpty(name) ? "?" : name);
                }
            }

            if (owners.Count == wanted.Count)
            {
                break;
            }
        }

        return owners;
    }

    /// <summary>Reads <c>socket:[12345]</c>, the link text the kernel gives a socket descriptor.</summary>
    internal static bool TryParseSocketInode(string target, out ulong inode)
    {
        inode = 0;
        const string Prefix = "socket:[";
        return target.StartsWith(Prefix, StringComparison.Ordinal)
            && target.EndsWith(']')
            && ulong.TryParse(target.AsSpan(Prefix.Length, target.Length - Prefix.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out inode);
    }
}
