using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

[CollectionDefinition(nameof(FileDescriptorCounting), DisableParallelization = true)]
public sealed class FileDescriptorCounting;

/// <summary>Counts this process's file descriptors, so it runs alone.</summary>
[Collection(nameof(FileDescriptorCounting))]
public sealed class SocketPoolResourceTests
{
    [Fact]
    public async Task DisposeEverything_FourHundredLeases_OpenSocketCountReturnsToWhereItStarted()
    {
        // Sockets only: the runtime opens epoll and pipe descriptors of its own as socket use grows.
        var before = OpenFiles.Sockets();
        await using (var server = new LoopbackServer())
        {
            await using var pool = new SocketPool(new TuplePoolOptions
            {
                SourceAddresses = TestSources.Take(4),
                LocalPortRange = PortSlices.Next(100),
                CloseMode = CloseMode.Abortive,
            });
            var leases = new List<SocketLease>();
            for (var i = 0; i < 400; i++)
            {
                leases.Add(await pool.AcquireAsync(server.EndPoint));
            }

            var holding = OpenFiles.Sockets();
            Assert.True(holding >= before + 400, $"before {before}, holding {holding}");
            leases.ForEach(l => l.Dispose());
            Assert.Equal(0, pool.GetSnapshot().TotalActive);
        }

        var after = await OpenFiles.SettleSocketsAsync(before);
        Assert.Equal(before, after);
    }
}
