using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

public class ProcFileSystemTests
{
    [Fact]
    public void TryReadAllText_ProcFile_WholeText()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/proc exists only on Linux.");

        var text = ProcFileSystem.Default.TryReadAllText(KernelSettings.OsReleasePath);

        // /proc files report a size of 0; the text must still be all there.
        Assert.NotNull(text);
        Assert.Equal(File.ReadAllText(KernelSettings.OsReleasePath), text);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadAllText_LargeProcFile_ReadsPastFirstPage()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/proc exists only on Linux.");

        // /proc/self/maps of a .NET process is well over one 4 KiB page.
        var text = ProcFileSystem.Default.TryReadAllText("/proc/self/maps");

        Assert.NotNull(text);
        Assert.True(text.Length > 8192, $"only {text.Length} characters");
    }

    [Fact]
    public void TryReadAllText_MissingFile_Null()
        => Assert.Null(ProcFileSystem.Default.TryReadAllText("/proc/sys/net/ipv4/no_such_setting_" + Guid.NewGuid().ToString("N")));

    [Fact]
    public void TryReadAllText_MissingDirectory_Null()
        => Assert.Null(ProcFileSystem.Default.TryReadAllText("/no/such/dir/" + Guid.NewGuid().ToString("N") + "/file"));

    [Fact]
    public void TryReadAllText_Directory_Null()
        => Assert.Null(ProcFileSystem.Default.TryReadAllText("/proc/sys/net/ipv4"));

    [Fact]
    public void TryReadAllText_EmptyPath_Null()
        => Assert.Null(ProcFileSystem.Default.TryReadAllText(""));

    [Fact]
    public void TryReadAllText_WriteOnlyProcFile_Null()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/proc exists only on Linux.");

        // Mode 0200 and no read handler: opening for reading fails (EACCES, or EINVAL for root).
        Assert.Null(ProcFileSystem.Default.TryReadAllText("/proc/self/clear_refs"));
    }
}
