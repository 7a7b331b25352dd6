using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TuplePool.Benchmarks.HttpServer;

/// <summary>
/// The HTTP server child (<c>--serve-http [firstPort]</c>): Kestrel on 127.0.0.1 (a port below 32768) answering
/// <c>GET /</c> with a small body. Same line protocol as the socket server child: prints
/// <c>READY http=PORT</c> and exits on <c>quit</c> or when stdin ends (the parent died).
/// </summary>
internal static class HttpServerHolder
{
    public const string Switch = "--serve-http";

    private static readonly byte[] s_body = "{\"status\":\"ok\",\"pool\":\"TuplePool\"}"u8.ToArray();

    public static int Run(string[] args)
    {
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, static context => context.Cancel = true);
        var firstPort = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 17100;
        var port = FreePort(firstPort);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapGet("/", static context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = s_body.Length;
            return context.Response.Body.WriteAsync(s_body).AsTask();
        });
        app.StartAsync().GetAwaiter().GetResult();

        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY http={port}"));
        Console.Out.Flush();
        string? line;
        while ((line = Console.In.ReadLine()) is not null && line.Trim() != "quit")
        {
            Console.Out.WriteLine("ERROR unknown command");
            Console.Out.Flush();
        }

        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        app.StopAsync(stopping.Token).GetAwaiter().GetResult();
        return 0;
    }

    // Kestrel binds the port itself; probe for one that is free first.
    private static int FreePort(int first)
    {
        for (var port = first; port < first + 500 && port < 32768; port++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
            }
        }

        throw new InvalidOperationException($"No free listening port on 127.0.0.1 in {first}-{first + 499}.");
    }
}
