using System.Net;
using TuplePool.Demo.Loopback;
using TuplePool.Demo.Pictures;

namespace TuplePool.Demo.Scenarios;

/// <summary>What every scenario gets: the options, the machine, the server child and the table.</summary>
internal sealed record DemoContext(DemoOptions Options, MachineFacts Machine, ChildServer Server, ResultTable Table)
{
    /// <summary>127.0.0.2 ... 127.0.0.(N+1): Linux routes all of 127.0.0.0/8 to lo, nothing to configure.</summary>
    public IReadOnlyList<IPAddress> SourceAddresses { get; } =
        Enumerable.Range(2, Options.Sources).Select(i => new IPAddress(new byte[] { 127, 0, 0, (byte)i })).ToList();

    /// <summary>What the scenarios measured for the pictures, drawn at the end of the run.</summary>
    public DemoPictures Pictures { get; } = new();
}
