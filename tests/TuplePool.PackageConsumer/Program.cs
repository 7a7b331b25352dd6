// Uses TuplePool from its packages as an application would, against a listener of its own on
// loopback (port below 32768, outside the ephemeral range): a raw lease that is returned and lent
// again, then HttpClient from IHttpClientFactory through TuplePool.Http with options bound from
// configuration. Prints OK and exits 0, or prints FAIL and exits 1. Runs JIT and NativeAOT.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool;

using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
try
{
    using var listener = Listen(args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 31000);
    var destination = (IPEndPoint)listener.LocalEndpoint;
    Console.WriteLine($"listening on {destination}");
    await LeaseAsync(listener, destination, timeout.Token);
    await HttpAsync(listener, destination, timeout.Token);
    Console.WriteLine("OK");
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"FAIL: {e}");
    return 1;
}

// The first free port from `first` on, staying below 32768.
static TcpListener Listen(int first)
{
    for (var port = first; port < 32768; port++)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return listener;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            listener.Dispose();
        }
    }

    throw new InvalidOperationException($"no free listening port in {first}-32767");
}

static async Task LeaseAsync(TcpListener listener, IPEndPoint destination, CancellationToken ct)
{
    await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = { IPAddress.Loopback } });

    var accepted = listener.AcceptSocketAsync(ct);
    var lease = await pool.AcquireAsync(destination, ct);
    using var server = await accepted;
    Check(!lease.IsReused, "the first lease is a new connection");
    Check(lease.RemoteEndPoint.Equals(destination), $"lease connected to {lease.RemoteEndPoint}, expected {destination}");
    Check(lease.LocalEndPoint.Equals(server.RemoteEndPoint), $"server sees {server.RemoteEndPoint}, lease is {lease.LocalEndPoint}");

    await lease.Stream.WriteAsync("ping"u8.ToArray(), ct);
    var buffer = new byte[4];
    await ReadExactlyAsync(server, buffer, ct);
    Check(Encoding.ASCII.GetString(buffer) == "ping", "server received the lease's bytes");
    await server.SendAsync("pong"u8.ToArray(), SocketFlags.None, ct);
    await lease.Stream.ReadExactlyAsync(buffer, ct);
    Check(Encoding.ASCII.GetString(buffer) == "pong", "lease received the server's bytes");

    var local = lease.LocalEndPoint;
    await lease.DisposeAsync();   // back to the idle store

    var again = await pool.AcquireAsync(destination, ct);
    Check(again.IsReused && again.LocalEndPoint.Equals(local), $"the returned socket is lent again (reused: {again.IsReused}, {again.LocalEndPoint} vs {local})");
    var usage = pool.GetSnapshot().Tuples.Single(t => t.Destination.Equals(destination));
    Check(usage.Active == 1 && usage.Idle == 0, $"snapshot while leased: {usage}");
    await again.DisposeAsync();
    Console.WriteLine($"lease: {local} -> {destination}, lent twice");
}

static async Task HttpAsync(TcpListener listener, IPEndPoint destination, CancellationToken ct)
{
    var configuration = new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.1",
            ["TuplePool:AcquireTimeout"] = "00:00:10",
        })
        .Build();
    var services = new ServiceCollection();
    services.AddTuplePool(configuration.GetSection("TuplePool"));
    services.AddHttpClient("loopback").UseTuplePool();
    await using var provider = services.BuildServiceProvider();
    var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("loopback");

    var served = ServeOneRequestAsync(listener, ct);
    var body = await client.GetStringAsync(new Uri($"http://{destination}/"), ct);
    using var server = await served;   // kept open: HttpClient holds the connection (keep-alive)
    Check(body == "OK", $"HTTP body '{body}'");

    var pool = provider.GetRequiredService<ISocketPool>();
    var usage = pool.GetSnapshot().Tuples.SingleOrDefault(t => t.Destination.Equals(destination));
    Check(usage is { Active: 1 }, $"the HttpClient connection is charged to the pool's budget: {usage?.ToString() ?? "no tuple"}");
    Console.WriteLine($"http: GET {destination} -> {body} through {usage}");
}

// A minimal HTTP/1.1 server for one request: reads the head, answers "OK", leaves the socket open.
static async Task<Socket> ServeOneRequestAsync(TcpListener listener, CancellationToken ct)
{
    var socket = await listener.AcceptSocketAsync(ct);
    var head = new StringBuilder();
    var buffer = new byte[1024];
    while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
    {
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
        if (read == 0)
        {
            throw new InvalidOperationException("client closed before sending a request");
        }

        head.Append(Encoding.ASCII.GetString(buffer, 0, read));
    }

    await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"u8.ToArray(), SocketFlags.None, ct);
    return socket;
}

static async Task ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
{
    for (var done = 0; done < buffer.Length;)
    {
        var read = await socket.ReceiveAsync(buffer.AsMemory(done), SocketFlags.None, ct);
        if (read == 0)
        {
            throw new InvalidOperationException("peer closed early");
        }

        done += read;
    }
}

static void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException($"check failed: {what}");
    }
}
