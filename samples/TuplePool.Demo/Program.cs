using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using TuplePool.Demo;
using TuplePool.Demo.Loopback;
using TuplePool.Demo.Nat;
using TuplePool.Demo.Scenarios;

// The hidden child mode: the server half of every connection (see ServerHolder).
if (args.Length > 0 && args[0] == ServerHolder.Switch)
{
    return ServerHolder.Run(args);
}

// The hidden child modes inside the NAT lab's namespaces (see NatChild).
if (args.Length > 1 && args[0] == NatChild.Switch)
{
    return await NatChild.RunAsync(args);
}

if (!DemoOptions.TryParse(args, out var options, out var error))
{
    Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine("Run with --help to see the options.");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(DemoOptions.Usage);
    return 0;
}

if (!OperatingSystem.IsLinux())
{
    Console.Error.WriteLine("This demo shows Linux kernel behaviour (IP_BIND_ADDRESS_NO_PORT, IP_LOCAL_PORT_RANGE, 127.0.0.0/8 on lo) and runs on Linux only.");
    return 1;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl+C: stop cleanly (close every socket, stop the child). Second: leave at once; the
    // child still exits because its stdin closes with this process.
    if (!stop.IsCancellationRequested)
    {
        e.Cancel = true;
        Console.Error.WriteLine("Stopping: closing connections (Ctrl+C again to quit at once) ...");
        stop.Cancel();
    }
};

var total = Stopwatch.StartNew();
var machine = MachineFacts.Read();
Console.WriteLine($"TuplePool demo on {machine.Describe()}");

ChildServer server;
try
{
    server = ChildServer.Start([ServerHolder.Switch, "16000"], TimeSpan.FromSeconds(20));
}
catch (Exception e) when (e is InvalidOperationException or Win32Exception or IOException)
{
    Console.Error.WriteLine($"error: could not start the loopback server child process: {e.Message}");
    return 1;
}

var table = new ResultTable();
var failures = 0;
using (server)
{
    Progress.Line("server", $"child process {server.ProcessId} listens on {server.Hold} (holds connections) and {server.Echo} (echo)");
    var context = new DemoContext(options, machine, server, table);
    (string Name, string Title, Func<DemoContext, CancellationToken, Task> Run)[] scenarios =
    [
        (CapacityScenario.Name, "Capacity", CapacityScenario.RunAsync),
        (ChurnScenario.Name, "Churn", ChurnScenario.RunAsync),
        (CrowdedConnectScenario.Name, "Crowded connect", CrowdedConnectScenario.RunAsync),
        (NatScenario.Name, "Behind a NAT", NatScenario.RunAsync),
    ];
    foreach (var (name, title, run) in scenarios)
    {
        if (!options.Scenarios.Contains(name))
        {
            continue;
        }

        try
        {
            await run(context, stop.Token);
        }
        catch (ScenarioSkippedException e)
        {
            Progress.Line(name, $"skipped: {e.Message}");
            table.AddSkipped(title, e.Message);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("Stopped.");
            return 130;
        }
        catch (Exception e) when (EnvironmentProblem(e) is { } problem)
        {
            Progress.Line(name, $"skipped: {problem}");
            table.AddSkipped(title, problem);
        }
        catch (Exception e)
        {
            failures++;
            var message = $"{e.GetType().Name}: {e.Message}";
            Progress.Line(name, $"failed: {message}");
            table.AddSkipped(title, "failed with " + message);
        }
    }

    context.Pictures.WriteAll(options.PicturesFolder, text => Progress.Line("pictures", text));
}

Console.WriteLine();
Console.Write(table.Render());
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Done in {total.Elapsed.TotalSeconds:F1} s."));
return failures == 0 ? 0 : 1;

// Kernel and permission problems get one clear line instead of a stack trace.
static string? EnvironmentProblem(Exception e) => e switch
{
    UnauthorizedAccessException => $"permission denied ({e.Message})",
    SocketException { SocketErrorCode: SocketError.AccessDenied } =>
        "the kernel refused a socket operation (EACCES/EPERM); a security policy may forbid raw socket options or binding 127.0.0.x",
    SocketException { SocketErrorCode: SocketError.ProtocolOption or SocketError.ProtocolNotSupported or SocketError.OperationNotSupported } =>
        $"this kernel does not support a socket option the scenario needs ({e.Message})",
    SocketException { SocketErrorCode: SocketError.TooManyOpenSockets } =>
        "out of file descriptors (EMFILE): use smaller --connections / --crowd, or raise `ulimit -n`",
    _ => null,
};
