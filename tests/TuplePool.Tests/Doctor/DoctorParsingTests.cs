using TuplePool.Doctor.Host;
using TuplePool.Platform;

namespace TuplePool.Tests.Doctor;

/// <summary>The doctor's own small readers, on text the kernel really wrote.</summary>
public sealed class DoctorParsingTests
{
    [Fact]
    public void HostFacts_CapturedProcNetTcp_KeepsTheInodes()
    {
        using var proc = new CapturedProc();
        proc.Write("net/tcp", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", "proc-net-tcp.txt")));

        var facts = HostFacts.Read(new ProcTree(proc.Root));

        Assert.Equal(0, facts.MalformedSocketLines);
        Assert.Equal(CensusBackend.ProcNetTcp, facts.Census);
        // Captured: the listener 127.0.0.1:45189 has inode 28950 (see Platform/TestData/README.md);
        // TIME_WAIT sockets have none.
        var listener = Assert.Single(facts.Sockets, s => s.LocalPort == 45189 && s.State == TcpState.Listen);
        Assert.Equal(28950U, listener.Inode);
        Assert.All(facts.Sockets.Where(s => s.State == TcpState.TimeWait), s => Assert.Equal(0U, s.Inode));
        Assert.Equal([28950UL], Assert.Single(facts.ListenersInRange).Inodes);
    }

    [Fact]
    public void HostFacts_MalformedSocketLines_AreCounted()
    {
        using var proc = new CapturedProc();
        proc.Write("net/tcp", "  sl  local_address\n   0: nonsense\n");

        var facts = HostFacts.Read(new ProcTree(proc.Root));

        Assert.Empty(facts.Sockets);
        Assert.Equal(1, facts.MalformedSocketLines);
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
