using System.Globalization;
using System.Runtime.InteropServices;

namespace TuplePool.Doctor.Host;

/// <summary>The open-file limit (<c>RLIMIT_NOFILE</c>): from <c>getrlimit</c> on the live host, from <c>/proc/self/limits</c> in captured text.</summary>
/// <param name="Soft">The limit in force; null when unlimited.</param>
/// <param name="Hard">The ceiling the soft limit may be raised to; null when unlimited.</param>
/// <param name="Origin">Where the numbers came from.</param>
internal sealed partial record OpenFileLimit(long? Soft, long? Hard, string Origin)
{
    private const int RlimitNoFile = 7; // Linux, every architecture .NET runs on.

    /// <summary>Null when neither source could be read.</summary>
    public static OpenFileLimit? Read(ProcTree tree)
    {
        if (tree.IsLive && OperatingSystem.IsLinux() && TryGetRlimit(out var soft, out var hard))
        {
            return new OpenFileLimit(soft, hard, "getrlimit(RLIMIT_NOFILE)");
        }

        var text = tree.TryReadAllText(SysctlReader.SelfLimitsPath);
        return text is not null && TryParseLimits(text, out soft, out hard)
            ? new OpenFileLimit(soft, hard, SysctlReader.SelfLimitsPath)
            : null;
    }

    /// <summary>Reads the "Max open files" line of <c>/proc/PID/limits</c>.</summary>
    internal static bool TryParseLimits(string text, out long? soft, out long? hard)
    {
        soft = hard = null;
        const string Label = "Max open files";
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(Label, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line[Label.Length..].Trim();
            var gap = rest.IndexOf(' ');
            if (gap < 0)
            {
                return false;
            }

            var second = rest[gap..].TrimStart(' ');
            var end = second.IndexOf(' ');
            return TryParseValue(rest[..gap], out soft) && TryParseValue(end < 0 ? second : second[..end], out hard);
        }

        return false;
    }

    private static bool TryParseValue(ReadOnlySpan<char> text, out long? value)
    {
        value = null;
        if (text.SequenceEqual("unlimited"))
        {
            return true;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            value = number;
            return true;
        }

        return false;
    }

    private static bool TryGetRlimit(out long? soft, out long? hard)
    {
        soft = hard = null;
        try
        {
            if (GetRlimit(RlimitNoFile, out var limit) != 0)
            {
                return false;
            }

            soft = limit.Current == ulong.MaxValue ? null : (long)limit.Current;
            hard = limit.Maximum == ulong.MaxValue ? null : (long)limit.Maximum;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRlimit(int resource, out RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
