using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Sources;

namespace TuplePool.Connecting;

/// <summary>A freshly connected socket and the tuple reservation it holds.</summary>
internal readonly record struct OpenedConnection(Socket Socket, TupleLedger Ledger, SourceAddress Source);
