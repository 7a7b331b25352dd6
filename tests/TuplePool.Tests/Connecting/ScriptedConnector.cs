using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using TuplePool.Connecting;

namespace TuplePool.Tests.Connecting;

/// <summary>What a <see cref="ScriptedConnector"/> does for one destination.</summary>
public enum ConnectScript
{
    /// <summary>Fails at once with ECONNREFUSED.</summary>
    Refuse,

    /// <summary>Stays pending until cancelled (a SYN nobody answers).</summary>
    Hang,

    /// <summary>Connects at once (an unconnected socket stands in: nothing is sent anywhere).</summary>
    Connect,

    /// <summary>Stays pending until the test calls <see cref="ScriptedConnector.Complete"/>, ignoring cancellation.</summary>
    HoldIgnoringCancel,
}

/// <summary>
/// An <see cref="ISocketConnector"/> that plays a script per destination and records every call,
/// in order, with the token it was given, so race tests can see which attempt started when and
/// which was cancelled. No packet leaves the process.
/// </summary>
internal sealed class ScriptedConnector : ISocketConnector
{
    private readonly Dictionary<IPEndPoint, ConnectScript> _scripts = [];
    private readonly ConcurrentDictionary<IPEndPoint, TaskCompletionSource> _held = new();
    private readonly TaskCompletionSource[] _called = Enumerable.Range(0, 16).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
    private readonly List<Call> _calls = [];

    public ScriptedConnector Script(IPEndPoint destination, ConnectScript script)
    {
        _scripts[destination] = script;
        return this;
    }

    public IReadOnlyList<Call> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Completes when the <paramref name="count"/>-th call has been made.</summary>
    public Task CalledAsync(int count) => _called[count - 1].Task.WaitAsync(TimeSpan.FromSeconds(10));

    /// <summary>Lets a <see cref="ConnectScript.HoldIgnoringCancel"/> attempt connect.</summary>
    public void Complete(IPEndPoint destination) => _held.GetOrAdd(destination, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var call = new Call(source, destination, cancellationToken);
        int index;
        lock (_calls)
        {
            _calls.Add(call);
            index = _calls.Count - 1;
        }

        _called[index].TrySetResult();
        switch (_scripts.GetValueOrDefault(destination, ConnectScript.Refuse))
        {
            case ConnectScript.Refuse:
                await Task.Yield();
                throw new SocketException((int)SocketError.ConnectionRefused);
            case ConnectScript.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
                throw new InvalidOperationException("unreachable");
            case ConnectScript.HoldIgnoringCancel:
                await _held.GetOrAdd(destination, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                return call.Keep(new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
            default:
                return call.Keep(new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        }
    }

    public sealed class Call(IPAddress source, IPEndPoint destination, CancellationToken token)
    {
        public IPAddress Source { get; } = source;

        public IPEndPoint Destination { get; } = destination;

        public CancellationToken Token { get; } = token;

        public Socket? Socket { get; private set; }

        internal Socket Keep(Socket socket) => Socket = socket;
    }
}
