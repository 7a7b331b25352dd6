using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Tests.Doctor;

/// <summary>
/// A copy of the /proc text captured on a Linux 6.18 host (TestData/proc-6.18, see capture_proc.sh)
/// in a temporary directory, for <c>--proc-root</c>; tests change files, add sockets in the
/// kernel's own line format, and processes whose fd links name socket inodes.
/// </summary>
internal sealed class CapturedProc : IDisposable
{
    private static readonly string Captured = Path.Combine(AppContext.BaseDirectory, "Doctor", "TestData", "proc-6.18");
    private int _slot;

    public CapturedProc()
    {
        Root = Path.Combine(Path.GetTempPath(), "tuplepool-doctor-" + Guid.NewGuid().ToString("N"));
        foreach (var file in Directory.EnumerateFiles(Captured, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(Root, Path.GetRelativePath(Captured, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public string Root { get; }

    /// <summary>Writes <paramref name="text"/> to ROOT/<paramref name="path"/> (a path below /proc, e.g. "sys/net/ipv4/tcp_tw_reuse").</summary>
    public CapturedProc Write(string path, string text)
    {
        var target = Path.Combine(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllText(target, text);
        return this;
    }

    public CapturedProc Delete(string path)
    {
        File.Delete(Path.Combine(Root, path));
        return this;
    }

    /// <summary>Appends a socket line to net/tcp (IPv4) or net/tcp6, formatted as tcp4_seq_show / tcp6_seq_show print it.</summary>
    public CapturedProc AddSocket(string local, string remote, int state, ulong inode = 0)
    {
        var l = IPEndPoint.Parse(local);
        var r = IPEndPoint.Parse(remote);
        var file = l.AddressFamily == AddressFamily.InterNetworkV6 ? "net/tcp6" : "net/tcp";
        var line = string.Create(
            CultureInfo.InvariantCulture,
            $"{_slot++,4}: {Hex(l.Address)}:{l.Port:X4} {Hex(r.Address)}:{r.Port:X4} {state:X2} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n");
        File.AppendAllText(Path.Combine(Root, file), line);
        return this;
    }

    /// <summary>A process directory with its name and one fd link per socket inode.</summary>
    public CapturedProc AddProcess(int pid, string name, params ulong[] socketInodes)
    {
        Write($"{pid}/comm", name + "\n");
        var fd = Path.Combine(Root, pid.ToString(CultureInfo.InvariantCulture), "fd");
        Directory.CreateDirectory(fd);
        File.CreateSymbolicLink(Path.Combine(fd, "0"), "/dev/null");
        for (var i = 0; i < socketInodes.Length; i++)
        {
            File.CreateSymbolicLink(Path.Combine(fd, (i + 3).ToString(CultureInfo.InvariantCulture)), $"socket:[{socketInodes[i]}]");
        }

        return this;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // The kernel prints each 32-bit word of the address as the host reads it from memory.
    private static string Hex(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var text = new System.Text.StringBuilder();
        for (var word = 0; word < bytes.Length; word += 4)
        {
            text.Append(BitConverter.ToUInt32(bytes, word).ToString("X8", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
