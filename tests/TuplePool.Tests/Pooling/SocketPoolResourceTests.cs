using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>Nothing the pool opened stays open once everything is disposed.</summary>
public sealed class SocketPoolResourceTests
{
    [Fact]
    public async Task DisposeEverything_FourHundredLeases_NoneOfItsSocketsStaysOpen()
    {
        // Only this test's sockets are followed (by inode: the client sockets in its own port
        // slice), so sockets other test classes open and close meanwhile cannot move the count.
        var slice = PortSlices.Next(100);
        HashSet<long> ours;
        await using (var server = new LoopbackServer())
        {
            await using var pool = new SocketPool(new TuplePoolOptions
            {
                SourceAddresses = TestSources.Take(4),
                LocalPortRange = slice,
                CloseMode = CloseMode.Abortive,
            });
            var leases = new List<SocketLease>();
            for (var i = 0; i < 400; i++)
            {
                leases.Add(await pool.AcquireAsync(server.EndPoint));
            }

            ours = OpenFiles.TcpSocketInodes(slice);
            Assert.Equal(400, ours.Count);
            Assert.Subset(OpenFiles.SocketInodes(), ours); // each one is a descriptor of this process
            leases.ForEach(l => l.Dispose());
            Assert.Equal(0, pool.GetSnapshot().TotalActive);
        }

        var stillOpen = ours;
        for (var i = 0; i < 100 && stillOpen.Count > 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(20);
            stillOpen = [.. ours.Intersect(OpenFiles.SocketInodes())];
        }

        Assert.Empty(stillOpen);
        Assert.Empty(OpenFiles.TcpSocketInodes(slice)); // and the kernel holds none of them either
    }
}
