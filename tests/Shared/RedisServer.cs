using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;
using TuplePool.Demo.Loopback;

namespace TuplePool.TestServers;

/// <summary>
/// A Debian <c>redis-server</c> of its own, as a child process on 127.0.0.1 and a port below 32768
/// (<see cref="ListenerPorts"/>), with no persistence (<c>--save '' --appendonly no</c>): stopping
/// and starting it again gives a Redis that lost every key, as a restart without persistence does.
/// </summary>
/// <remarks>
/// The server runs under a small shell that kills it when its standard input closes, so it dies
/// with the test process however that ends (even SIGKILL); <see cref="KillAsync"/> kills the server
/// alone, at once, as a crash would.
/// </remarks>
internal sealed class RedisServer : IAsyncDisposable
{
    private Process? _shell;
    private int _serverPid;

    private RedisServer(int port) => Port = port;

    /// <summary>The redis-server executable, or null when it is not installed.</summary>
    public static string? Executable { get; } = Find();

    /// <summary>Why a test that needs redis-server cannot run here; null when it can.</summary>
    public static string? MissingReason => Executable is null
        ? "redis-server is not installed (Debian package redis-server; .ci/run installs it)."
        : null;

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Starts a server on a free listening port of <see cref="ListenerPorts"/>.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            int port;
            using (var probe = ListenerPorts.BindListener(IPAddress.Loopback))
            {
                port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            }

            var server = new RedisServer(port);
            if (await server.TryStartAsync().ConfigureAwait(false))
            {
                return server;
            }

            await server.DisposeAsync().ConfigureAwait(false);
            if (attempt == 4)
            {
                throw new InvalidOperationException("redis-server did not start on five free ports in a row.");
            }
        }
    }

    /// <summary>Client settings for one instance of the fleet: fails fast while the server is down, reconnects by itself.</summary>
    public ConfigurationOptions ClientOptions(string clientName)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { EndPoint },
            AbortOnConnectFail = false,
            // Generous: a whole test suite shares two cores; the budget bounds its own requests
            // (RedisFleetOptions.RequestTimeout), and a stopped server fails at once (FailFast).
            ConnectTimeout = 2000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            ConnectRetry = 1,
            ClientName = clientName,
            BacklogPolicy = BacklogPolicy.FailFast,
            ReconnectRetryPolicy = new LinearRetry(100),
        };
        return options;
    }

    public async Task<ConnectionMultiplexer> ConnectAsync(string clientName = "tuplepool-test")
        => await ConnectionMultiplexer.ConnectAsync(ClientOptions(clientName)).ConfigureAwait(false);

    /// <summary>Kills the server at once (SIGKILL) and waits until its port refuses connections.</summary>
    public async Task KillAsync()
    {
        if (_serverPid != 0)
        {
            try
            {
                using var server = Process.GetProcessById(_serverPid);
                server.Kill();
                await server.WaitForExitAsync().ConfigureAwait(false);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }

            _serverPid = 0;
        }

        if (_shell is { } shell)
        {
            shell.StandardInput.Close();
            await shell.WaitForExitAsync().ConfigureAwait(false);
            shell.Dispose();
            _shell = null;
        }
    }

    /// <summary>Starts the server again on the same port, empty.</summary>
    public async Task RestartEmptyAsync()
    {
        await KillAsync().ConfigureAwait(false);
        if (!await TryStartAsync().ConfigureAwait(false))
        {
            throw new InvalidOperationException($"redis-server did not start again on port {Port}.");
        }
    }

    public async ValueTask DisposeAsync() => await KillAsync().ConfigureAwait(false);

    private async Task<bool> TryStartAsync()
    {
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The shell prints the server's pid, then waits for its stdin to close and kills the server.
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add("\"$0\" \"$@\" >/dev/null 2>&1 & echo $!; cat >/dev/null; kill -9 $! 2>/dev/null");
        startInfo.ArgumentList.Add(Executable ?? throw new InvalidOperationException(MissingReason));
        foreach (var argument in (string[])["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var shell = Process.Start(startInfo) ?? throw new InvalidOperationException("/bin/sh did not start.");
        _shell = shell;
        _serverPid = int.Parse(await shell.StandardOutput.ReadLineAsync().ConfigureAwait(false) ?? "0", CultureInfo.InvariantCulture);
        var started = Stopwatch.StartNew();
        while (started.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (await AnswersPingAsync().ConfigureAwait(false))
            {
                return true;
            }

            if (!IsRunning(_serverPid))
            {
                return false;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        return false;
    }

    private async Task<bool> AnswersPingAsync()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(EndPoint).ConfigureAwait(false);
            await socket.SendAsync("PING\r\n"u8.ToArray()).ConfigureAwait(false);
            var buffer = new byte[16];
            var read = await socket.ReceiveAsync(buffer).ConfigureAwait(false);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string? Find()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/usr/sbin").Split(':').Append("/usr/bin").Append("/usr/sbin"))
        {
            var path = Path.Combine(directory, "redis-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
