using TuplePool.Doctor.Host;

namespace TuplePool.Tests.Doctor;

/// <summary>The doctor's own small readers, on text the kernel really wrote.</summary>
public sealed class DoctorParsingTests
{
    [Fact]
    public void SocketTable_Parse_RealProcNetTcp_KeepsTheInodes()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", "proc-net-tcp.txt"));

        var sockets = SocketTable.Parse(text, out var malformed);

        Assert.Equal(0, malformed);
        // Captured: the listener 127.0.0.1:45189 has inode 28950 (see Platform/TestData/README.md);
        // TIME_WAIT sockets have none.
        var listener = Assert.Single(sockets, s => s.Entry.LocalPort == 45189 && s.Entry.State == TuplePool.Platform.TcpState.Listen);
        Assert.Equal(28950UL, listener.Inode);
        Assert.All(sockets.Where(s => s.Entry.State == TuplePool.Platform.TcpState.TimeWait), s => Assert.Equal(0UL, s.Inode));
    }

    [Fact]
    public void SocketTable_Parse_CountsMalformedLines()
    {
        var sockets = SocketTable.Parse("  sl  local_address\n   0: nonsense\n", out var malformed);

        Assert.Empty(sockets);
        Assert.Equal(1, malformed);
    }

    [Theory]
    [InlineData("socket:[28950]", true, 28950UL)]
    [InlineData("socket:[]", false, 0UL)]
    [InlineData("pipe:[28950]", false, 0UL)]
    [InlineData("/dev/null", false, 0UL)]
    public void ProcessOwners_TryParseSocketInode_ReadsTheKernelsLinkText(string target, bool parsed, ulong inode)
    {
        Assert.Equal(parsed, ProcessOwners.TryParseSocketInode(target, out var value));
        Assert.Equal(inode, value);
    }

    [Fact]
    public void OpenFileLimit_TryParseLimits_ReadsMaxOpenFiles()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Doctor", "TestData", "proc-6.18", "self", "limits"));

        Assert.True(OpenFileLimit.TryParseLimits(text, out var soft, out var hard));
        Assert.Equal(20000, soft);
        Assert.Equal(20000, hard);
    }

    [Fact]
    public void OpenFileLimit_TryParseLimits_ReadsUnlimited()
    {
        Assert.True(OpenFileLimit.TryParseLimits("Max open files            1024                 unlimited            files     \n", out var soft, out var hard));
        Assert.Equal(1024, soft);
        Assert.Null(hard);
    }
}
