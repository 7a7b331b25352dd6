using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>A <c>/proc</c> made of a dictionary: a path not in it is a missing file.</summary>
internal sealed class FakeProcFileSystem : IProcFileSystem
{
    private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);

    public List<string> Reads { get; } = [];

    public string? this[string path]
    {
        set
        {
            if (value is null)
            {
                _files.Remove(path);
            }
            else
            {
                _files[path] = value;
            }
        }
    }

    public string? TryReadAllText(string path)
    {
        Reads.Add(path);
        return _files.TryGetValue(path, out var text) ? text : null;
    }

    /// <summary>The files of a Linux 6.18 machine with default settings, as the kernel writes them.</summary>
    public static FakeProcFileSystem WithDefaults() => new()
    {
        [KernelSettings.PortRangePath] = "32768\t60999\n",
        [KernelSettings.ReservedPortsPath] = "\n",
        [KernelSettings.TcpTwReusePath] = "2\n",
        [KernelSettings.TcpTwReuseDelayPath] = "1000\n",
        [KernelSettings.TcpTimestampsPath] = "1\n",
        [KernelSettings.OsReleasePath] = "6.18.44-fc-v657\n",
    };
}
