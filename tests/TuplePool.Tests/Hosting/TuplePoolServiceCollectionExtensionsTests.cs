using TuplePool.Tests.Support;
using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Hosting;
using TuplePool.Platform;
using TuplePool.Tests.Http;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace TuplePool.Tests.Hosting;

public sealed class TuplePoolServiceCollectionExtensionsTests
{
    private static readonly KernelSettings Kernel618 = TestKernel.Create(twReuse: 2);

    private static IConfiguration Json(string json)
        => new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    /// <summary>Validation against fixed kernel facts, so these tests do not depend on /proc.</summary>
    private static IServiceCollection WithKernel(IServiceCollection services, KernelSettings? kernel)
    {
        // Replaces only the rules' validator; the configuration sections' validators stay.
        var rules = services.Single(d => d.ServiceType == typeof(IValidateOptions<TuplePoolOptions>) && d.ImplementationType == typeof(ValidateTuplePoolOptions));
        services.Remove(rules);
        services.AddSingleton<IValidateOptions<TuplePoolOptions>>(new ValidateTuplePoolOptions(() => kernel));
        return services;
    }

    private static OptionsValidationException StartFails(IServiceProvider provider)
    {
        var e = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        return e as OptionsValidationException
            ?? Assert.IsType<OptionsValidationException>(Assert.Single(Assert.IsType<AggregateException>(e).InnerExceptions));
    }

    [Fact]
    public async Task AddTuplePool_NoArguments_OneSingletonForBothServiceTypes()
    {
        await using var provider = new ServiceCollection().AddTuplePool().BuildServiceProvider();

        var pool = provider.GetRequiredService<ISocketPool>();

        Assert.IsType<SocketPool>(pool);
        Assert.Same(pool, provider.GetRequiredService<SocketPool>());
        Assert.Same(pool, provider.GetRequiredService<ISocketPool>());
    }

    [Fact]
    public async Task AddTuplePool_CalledTwice_OnePoolAndBothConfigureActionsApplied()
    {
        var services = new ServiceCollection()
            .AddTuplePool(o => o.MaxConnectAttempts = 5)
            .AddTuplePool(o => o.MaxIdlePerDestination = 3);
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value;

        Assert.Single(services, d => d.ServiceType == typeof(ISocketPool) && !d.IsKeyedService);
        Assert.Equal(5, options.MaxConnectAttempts);
        Assert.Equal(3, options.MaxIdlePerDestination);
    }

    [Fact]
    public async Task AddTuplePool_RootConfiguration_ReadsTuplePoolSection()
    {
        var configuration = Json("""
            {
              "TuplePool": {
                "SourceAddresses": [ "127.0.0.2", "127.0.0.3" ],
                "LocalPortRange": "45000-45099",
                "AcquireTimeout": "00:00:07",
                "CloseMode": "Abortive"
              },
              "Other": { "MaxConnectAttempts": 9 }
            }
            """);
        var services = WithKernel(new ServiceCollection().AddTuplePool(configuration), Kernel618);
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        var options = provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value;

        Assert.Equal([IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")], options.SourceAddresses);
        Assert.Equal(new PortRange(45000, 45099), options.LocalPortRange);
        Assert.Equal(TimeSpan.FromSeconds(7), options.AcquireTimeout);
        Assert.Equal(CloseMode.Abortive, options.CloseMode);
        Assert.Equal(TuplePoolDefaults.MaxConnectAttempts, options.MaxConnectAttempts);
    }

    [Fact]
    public async Task AddTuplePool_Section_ReadsThatSection()
    {
        var configuration = Json("""{ "Outbound": { "Pool": { "MaxConnectAttempts": 4 } } }""");
        await using var provider = new ServiceCollection().AddTuplePool(configuration.GetSection("Outbound:Pool")).BuildServiceProvider();

        Assert.Equal(4, provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value.MaxConnectAttempts);
    }

    [Fact]
    public async Task AddTuplePool_ConfigurationThenCode_CodeWins()
    {
        var configuration = Json("""{ "TuplePool": { "MaxConnectAttempts": 4, "MaxIdlePerDestination": 2 } }""");
        await using var provider = new ServiceCollection()
            .AddTuplePool(configuration)
            .AddTuplePool(o => o.MaxConnectAttempts = 6)
            .BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value;

        Assert.Equal(6, options.MaxConnectAttempts);
        Assert.Equal(2, options.MaxIdlePerDestination);
    }

    [Fact]
    public async Task AddTuplePool_Named_KeyedPoolsWithSeparateOptions()
    {
        var configuration = Json("""
            {
              "TuplePool": {
                "SourceAddresses": [ "127.0.0.2" ],
                "backend": { "SourceAddresses": [ "127.0.0.3", "127.0.0.4" ], "MaxConnectAttempts": 2 },
                "search": { "SourceAddresses": [ "127.0.0.5" ] }
              }
            }
            """);
        var services = new ServiceCollection()
            .AddTuplePool(configuration)
            .AddTuplePool("backend", configuration)
            .AddTuplePool("search", configuration.GetSection("TuplePool:search"));
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        var monitor = provider.GetRequiredService<IOptionsMonitor<TuplePoolOptions>>();
        var defaultPool = provider.GetRequiredService<ISocketPool>();
        var backend = provider.GetRequiredKeyedService<ISocketPool>("backend");
        var search = provider.GetRequiredKeyedService<ISocketPool>("search");

        Assert.Equal([IPAddress.Parse("127.0.0.2")], monitor.Get(MsOptions.DefaultName).SourceAddresses);
        Assert.Equal([IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.4")], monitor.Get("backend").SourceAddresses);
        Assert.Equal(2, monitor.Get("backend").MaxConnectAttempts);
        Assert.Equal([IPAddress.Parse("127.0.0.5")], monitor.Get("search").SourceAddresses);
        Assert.Equal(TuplePoolDefaults.MaxConnectAttempts, monitor.Get("search").MaxConnectAttempts);
        Assert.Equal(3, new HashSet<ISocketPool>([defaultPool, backend, search], ReferenceEqualityComparer.Instance).Count);
        Assert.Same(backend, provider.GetRequiredKeyedService<SocketPool>("backend"));
    }

    private sealed class NeedsBackendPool([FromKeyedServices("backend")] ISocketPool pool)
    {
        public ISocketPool Pool { get; } = pool;
    }

    [Fact]
    public async Task AddTuplePool_Named_ResolvedWithFromKeyedServices()
    {
        await using var provider = new ServiceCollection()
            .AddTuplePool()
            .AddTuplePool("backend", o => o.MaxConnectAttempts = 2)
            .AddTransient<NeedsBackendPool>()
            .BuildServiceProvider();

        var consumer = provider.GetRequiredService<NeedsBackendPool>();

        Assert.Same(provider.GetRequiredKeyedService<ISocketPool>("backend"), consumer.Pool);
        Assert.NotSame(provider.GetRequiredService<ISocketPool>(), consumer.Pool);
    }

    [Fact]
    public void AddTuplePool_Named_WithoutDefault_NoUnkeyedPool()
    {
        using var provider = new ServiceCollection().AddTuplePool("backend").BuildServiceProvider();

        Assert.Null(provider.GetService<ISocketPool>());
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void AddTuplePool_EmptyName_Throws(string name)
    {
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddTuplePool(name));
    }

    // Each bad value, written in configuration, stops start-up with its setting (and value) named.
    [Theory]
    [InlineData("SourceAddresses:0=nope", "SourceAddresses: 'nope' is not an IP address")]
    [InlineData("SourceAddresses:0=127.0.0.2;SourceAddresses:1=127.0.0.2", "SourceAddresses[1]: 127.0.0.2 is listed twice")]
    [InlineData("SourceAddresses:0=192.0.2.1", "SourceAddresses[0]: 192.0.2.1 is not assigned to this machine")]
    [InlineData("SourceAddresses:0=0.0.0.0", "SourceAddresses[0]: 0.0.0.0 is the wildcard address")]
    [InlineData("LocalPortRange=50000-40000", "LocalPortRange: 50000-40000 has First (50000) greater than Last (40000)")]
    [InlineData("LocalPortRange=0-100", "LocalPortRange: 0-100 is outside 1-65535")]
    [InlineData("LocalPortRange=45000-70000", "LocalPortRange: 45000-70000 is outside 1-65535")]
    [InlineData("LocalPortRange=ports", "LocalPortRange: 'ports' is not a port range")]
    [InlineData("LocalPortRange=20000-40000", "LocalPortRange: 20000-40000 is not inside the system range 32768-60999")]
    [InlineData("IdleTimeout=00:00:00", "IdleTimeout: 00:00:00 must be positive")]
    [InlineData("IdleTimeout=-00:00:05", "IdleTimeout: -00:00:05 must be positive")]
    [InlineData("ConnectionLifetime=00:00:00", "ConnectionLifetime: 00:00:00 must be positive")]
    [InlineData("AcquireTimeout=00:00:00", "AcquireTimeout: 00:00:00 must be positive")]
    [InlineData("AcquireTimeout=30", "AcquireTimeout: '30' is not a time span")]
    [InlineData("ConnectTimeout=00:00:00", "ConnectTimeout: 00:00:00 is out of range")]
    [InlineData("ConnectTimeout=Infinite", "ConnectTimeout: Infinite is out of range")]
    [InlineData("TimeWaitDuration=-00:00:01", "TimeWaitDuration: -00:00:01 must not be negative")]
    [InlineData("SourceQuarantine=00:00:00", "SourceQuarantine: 00:00:00 must lie between 00:00:00.1000000 and")]
    [InlineData("DnsRefreshInterval=-00:00:01", "DnsRefreshInterval: -00:00:01 must not be negative")]
    [InlineData("MaxIdlePerDestination=0", "MaxIdlePerDestination: 0 must be 1 or more")]
    [InlineData("MaxConnectionsPerDestination=0", "MaxConnectionsPerDestination: 0 must be 1 or more")]
    [InlineData("MaxConnectAttempts=0", "MaxConnectAttempts: 0 must lie between 1 and 100")]
    [InlineData("MaxConnectAttempts=three", "MaxConnectAttempts: 'three' is not a whole number")]
    [InlineData("ReservedPortsPerTuple=-1", "ReservedPortsPerTuple: -1 is negative")]
    [InlineData("LocalPortRange=45000-45099;ReservedPortsPerTuple=100", "ReservedPortsPerTuple: 100 leaves no port for the pool")]
    [InlineData("CloseMode=Sometimes", "CloseMode: 'Sometimes' is not one of Graceful, Abortive")]
    [InlineData("ValidateOnAcquire=yes", "ValidateOnAcquire: 'yes' is not true or false")]
    public async Task AddTuplePool_BadConfiguredValue_StartFailsNamingField(string settings, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Split(';').Select(s => new KeyValuePair<string, string?>("TuplePool:" + s[..s.IndexOf('=', StringComparison.Ordinal)], s[(s.IndexOf('=', StringComparison.Ordinal) + 1)..])))
            .Build();
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(configuration), Kernel618).BuildServiceProvider();

        var e = StartFails(provider);

        Assert.Equal(MsOptions.DefaultName, e.OptionsName);
        Assert.StartsWith("TuplePool: " + expected, Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_UnreadableValueAndBrokenRule_BothReportedAtStart()
    {
        var configuration = Json("""{ "TuplePool": { "MaxConnectAttempts": "many", "IdleTimeout": "00:00:00" } }""");
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(configuration), Kernel618).BuildServiceProvider();

        var failures = StartFails(provider).Failures.ToList();

        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("TuplePool: MaxConnectAttempts: 'many' is not a whole number", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("TuplePool: IdleTimeout: 00:00:00 must be positive", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddTuplePool_MisspeltKey_StartFailsNamingTheNearestSetting()
    {
        var configuration = Json("""{ "TuplePool": { "AcquireTimout": "00:00:05" } }""");
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(configuration), Kernel618).BuildServiceProvider();

        var e = StartFails(provider);

        Assert.Equal("TuplePool: TuplePool:AcquireTimout is not a TuplePool setting; did you mean AcquireTimeout?", Assert.Single(e.Failures));
    }

    [Fact]
    public async Task AddTuplePool_TypoInNamedPoolsSubsection_ReportedOnceByThatPool()
    {
        var configuration = Json("""
            {
              "TuplePool": {
                "MaxConnectAttempts": 4,
                "replicas": { "SourceAddresses": [ "127.0.0.3" ], "AcquireTimout": "00:00:01" }
              }
            }
            """);
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(configuration).AddTuplePool("replicas", configuration), Kernel618).BuildServiceProvider();

        var e = StartFails(provider);

        Assert.Equal("replicas", e.OptionsName);
        Assert.Equal("TuplePool 'replicas': TuplePool:replicas:AcquireTimout is not a TuplePool setting; did you mean AcquireTimeout?", Assert.Single(e.Failures));
    }

    [Fact]
    public async Task AddTuplePool_NamedPoolsSection_InheritsNothingFromTheDefaultSection()
    {
        // What the README says: a named pool's section stands alone; settings it leaves out take
        // their defaults, not the default pool's values (which would share its port slice).
        var configuration = Json("""
            {
              "TuplePool": {
                "LocalPortRange": "45000-45099",
                "AcquireTimeout": "00:00:05",
                "replicas": { "SourceAddresses": [ "127.0.0.3" ] }
              }
            }
            """);
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(configuration).AddTuplePool("replicas", configuration), Kernel618).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        var monitor = provider.GetRequiredService<IOptionsMonitor<TuplePoolOptions>>();
        var replicas = monitor.Get("replicas");

        Assert.Equal(TimeSpan.FromSeconds(5), monitor.Get(MsOptions.DefaultName).AcquireTimeout);
        Assert.Equal([IPAddress.Parse("127.0.0.3")], replicas.SourceAddresses);
        Assert.Equal(TuplePoolDefaults.AcquireTimeout, replicas.AcquireTimeout);
        Assert.Null(replicas.LocalPortRange);
    }

    [Fact]
    public async Task AddTuplePool_RangeWiderThanSystemOnOldKernel_StartFailsNamingKernel()
    {
        var kernel515 = new KernelSettings
        {
            PortRange = new PortRange(32768, 60999),
            ReservedPorts = [],
            TcpTwReuse = 2,
            TcpTwReuseDelay = TimeSpan.FromSeconds(1),
            KernelVersion = new Version(5, 15),
            IsLinux = true,
            Fallbacks = [],
        };
        await using var provider = WithKernel(new ServiceCollection().AddTuplePool(o => o.LocalPortRange = new PortRange(1024, 65535)), kernel515).BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.StartsWith("TuplePool: LocalPortRange: 1024-65535 (64512 ports) is wider than the system range", failure, StringComparison.Ordinal);
        Assert.Contains("Linux 5.15 ignores IP_LOCAL_PORT_RANGE", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_NamedPoolBadValue_StartFailsNamingPool()
    {
        await using var provider = new ServiceCollection()
            .AddTuplePool()
            .AddTuplePool("backend", o => o.MaxConnectAttempts = 0)
            .BuildServiceProvider();

        var e = StartFails(provider);

        Assert.Equal("backend", e.OptionsName);
        Assert.StartsWith("TuplePool 'backend': MaxConnectAttempts: 0 must lie between 1 and 100", Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_BadValue_ResolvingThePoolThrowsToo()
    {
        await using var provider = new ServiceCollection().AddTuplePool(o => o.IdleTimeout = TimeSpan.Zero).BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ISocketPool>());

        Assert.Contains("IdleTimeout: 00:00:00", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_BadValue_HostStartAsyncThrows()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddTuplePool(o => o.SourceAddresses.Add(IPAddress.Parse("192.0.2.1")));
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.StartsWith("TuplePool: SourceAddresses[0]: 192.0.2.1 is not assigned to this machine", Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_ValidLoopbackSources_HostStarts()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddTuplePool(o =>
        {
            o.SourceAddresses.Add(IPAddress.Parse("127.0.0.2"));
            o.SourceAddresses.Add(IPAddress.Parse("127.0.0.3"));
        });
        using var host = builder.Build();

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.NotNull(host.Services.GetRequiredService<ISocketPool>());
    }

    [Fact]
    public async Task AddTuplePool_TimeProviderInContainer_PoolTimesOutOnIt()
    {
        var time = new FakeTimeProvider();
        await using var server = await TestHttpServer.StartAsync(TestContext.Current.CancellationToken);
        await using var provider = new ServiceCollection()
            .AddSingleton<TimeProvider>(time)
            .AddTuplePool(o =>
            {
                o.SourceAddresses.Add(IPAddress.Parse("127.0.0.2"));
                o.LocalPortRange = PortSlices.Integration.Take(1);
                o.AcquireTimeout = TimeSpan.FromMinutes(1);
            })
            .BuildServiceProvider();
        var pool = provider.GetRequiredService<ISocketPool>();
        await using var only = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);

        var waiting = pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken).AsTask();
        // Only the container's fake clock can end this wait; the system clock would take a minute.
        // The waiter arms its timer on its own thread, so keep advancing until it has (bounded by
        // real time, not by a count of turns that a busy machine can use up first).
        var started = TimeProvider.System.GetTimestamp();
        while (!waiting.IsCompleted && TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(20))
        {
            time.Advance(TimeSpan.FromSeconds(61));
            await Task.WhenAny(waiting, Task.Delay(10, TestContext.Current.CancellationToken));
        }

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AddTuplePool_MeterFactoryInContainer_PoolMeterComesFromIt()
    {
        await using var server = await TestHttpServer.StartAsync(TestContext.Current.CancellationToken);
        await using var provider = new ServiceCollection()
            .AddMetrics()
            .AddTuplePool(o =>
            {
                o.SourceAddresses.Add(IPAddress.Parse("127.0.0.2"));
                o.LocalPortRange = PortSlices.Integration.Take(5);
            })
            .BuildServiceProvider();
        var pool = provider.GetRequiredService<ISocketPool>();

        // Scoped to the container's IMeterFactory: sees only meters that factory created.
        using var collector = new MetricCollector<double>(provider.GetRequiredService<IMeterFactory>(), "TuplePool", "tuplepool.acquire.duration");
        var lease = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);
        lease.Dispose();

        Assert.NotEmpty(collector.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task AddTuplePool_LoggerFactoryInContainer_PoolLogsThroughIt()
    {
        await using var provider = new ServiceCollection()
            .AddLogging(b => b.AddFakeLogging().SetMinimumLevel(LogLevel.Debug))
            .AddTuplePool()
            .BuildServiceProvider();

        provider.GetRequiredService<ISocketPool>();

        var logs = provider.GetRequiredService<FakeLogCollector>().GetSnapshot();
        Assert.Contains(logs, r => r.Category == typeof(SocketPool).FullName);
    }

    [Fact]
    public async Task AddTuplePool_RangeOutsideThisMachinesSystemRange_StartFails()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The kernel's port range is only known on Linux.");
        var system = PortRange.ReadSystem();
        var crossing = new PortRange(system.First - 1, system.First + 10);
        await using var provider = new ServiceCollection().AddTuplePool(o => o.LocalPortRange = crossing).BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.StartsWith($"TuplePool: LocalPortRange: {crossing} ", failure, StringComparison.Ordinal);
        Assert.Contains(system.ToString(), failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTuplePool_SliceOfThisMachinesSystemRange_StartSucceeds()
    {
        await using var provider = new ServiceCollection().AddTuplePool(o => o.LocalPortRange = PortSlices.Integration.Take(1)).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
    }

    private sealed class ConnectAudit
    {
        public System.Collections.Concurrent.ConcurrentQueue<System.Net.EndPoint> Destinations { get; } = new();
    }

    [Fact]
    public async Task AddTuplePool_ConnectPipelineShapedWithAServiceFromDI_PoolUsesIt()
    {
        // Users shape the Polly connect pipeline through the options, with services from the
        // container through the Options pattern.
        await using var server = await TestHttpServer.StartAsync(TestContext.Current.CancellationToken);
        var services = new ServiceCollection()
            .AddSingleton<ConnectAudit>()
            .AddTuplePool(o =>
            {
                o.SourceAddresses.Add(IPAddress.Parse("127.0.0.2"));
                o.LocalPortRange = PortSlices.Integration.Take(5);
            });
        services.AddOptions<TuplePoolOptions>()
            .Configure<ConnectAudit>((o, audit) => o.ConfigureConnectPipeline = (_, destination) => audit.Destinations.Enqueue(destination));
        await using var provider = services.BuildServiceProvider();

        var lease = await provider.GetRequiredService<ISocketPool>().AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);
        lease.Dispose();

        Assert.Equal(server.EndPoint, Assert.Single(provider.GetRequiredService<ConnectAudit>().Destinations));
    }
}
