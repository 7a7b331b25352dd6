using CsCheck;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace TuplePool.Tests.Fuzz;

/// <summary>
/// The configuration path a user takes — <c>AddTuplePool(IConfiguration)</c>, then the options
/// resolved and validated — against generated and mutated sections. Its contract: registering
/// never throws on content; resolving either yields options or throws
/// <see cref="OptionsValidationException"/> whose failures name what is wrong; and options that
/// passed validation build a <see cref="SocketPool"/> without a second opinion.
/// </summary>
public sealed class ConfigurationBinderFuzzTests
{
    internal const int Iterations = 3_000;

    private static readonly string[] Keys =
    [
        "SourceAddresses", "SourceAddresses:0", "SourceAddresses:1", "SourceAddresses:x", "LocalPortRange",
        "LocalPortRange:First", "LocalPortRange:Last", "ReservedPortsPerTuple", "MaxConnectionsPerDestination",
        "MaxIdlePerDestination", "MaxConnectAttempts", "MinIdlePerDestination", "MaxPendingAcquires",
        "HappyEyeballsDelay", "TotalConnectTimeout", "KeepAlive", "KeepAlive:Time", "KeepAlive:Interval",
        "KeepAlive:RetryCount", "IdleTimeout", "ConnectionLifetime", "AcquireTimeout", "ConnectTimeout",
        "TimeWaitDuration", "SourceQuarantine", "DnsRefreshInterval", "ValidateOnAcquire", "CloseMode",
        "SourceSelection", "closemode", "Unknown", "KeepAlive:Unknown",
    ];

    // Values people write, right and wrong, and the edges of each kind.
    private static readonly string[] Seeds =
    [
        "", " ", "0", "1", "-1", "8", "100", "2147483647", "-2147483648", "99999999999", "1e3", "0x10",
        "00:00:05", "00:00:00", "-00:00:01", "00:00:00.001", "10675199.02:48:05.4775807", "Infinite", "infinite", "-1.00:00:00", "5s",
        "true", "false", "True", "yes", "Graceful", "Abortive", "RoundRobin", "MostRemaining", "7", "Graceful,Abortive",
        "127.0.0.2", "127.0.0.3,127.0.0.4", "::1", "::ffff:127.0.0.2", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255",
        "fe80::1%1", "localhost", "127.0.0.2 ", "127.0.0.2,,", "40000-44999", "44999-40000", "0-65535", "1-1", "40000",
        "40000-", "-", "65536-65537", "40000-44999-1",
    ];

    private static readonly Gen<string?> Value = Gen.Frequency(
        (6, Gen.OneOf(Seeds).Select(s => (string?)s)),
        (3, Gen.Select(Gen.OneOf(Seeds), Gen.Int[0, 40], Gen.Char[" -:.,0123456789abcdefxX%\u00A0\u0660"], static (s, at, c) => (string?)s.Insert(Math.Min(at, s.Length), c.ToString()))),
        (2, Gen.String[0, 30].Select(s => (string?)s)),
        (1, Gen.Const((string?)null)));

    private static readonly Gen<KeyValuePair<string, string?>[]> Section =
        Gen.Select(Gen.OneOf(Keys), Value, static (k, v) => new KeyValuePair<string, string?>("TuplePool:" + k, v)).Array[0, 8]
            .Select(static pairs => pairs.DistinctBy(p => p.Key, StringComparer.OrdinalIgnoreCase).ToArray()); // configuration keys ignore case

    [Fact]
    public void AddTuplePool_GeneratedSections_EitherValidOptionsOrAValidationErrorNamingTheKey()
    {
        var tried = 0;
        var rejected = 0;
        var accepted = 0;
        Section.Sample(pairs =>
        {
            Interlocked.Increment(ref tried);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(pairs).Build();
            var services = new ServiceCollection();
            services.AddTuplePool(configuration);
            using var provider = services.BuildServiceProvider();

            TuplePoolOptions options;
            try
            {
                options = provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value;
            }
            catch (OptionsValidationException e)
            {
                Interlocked.Increment(ref rejected);
                Assert.NotEmpty(e.Failures);
                Assert.All(e.Failures, f => Assert.False(string.IsNullOrWhiteSpace(f)));
                return;
            }

            Interlocked.Increment(ref accepted);

            // Validation passed, so the pool itself must agree and start.
            using var pool = new SocketPool(options);
            Assert.Empty(pool.GetSnapshot().Tuples);
        }, iter: Iterations, threads: 1);

        Assert.True(rejected > 0 && accepted > 0, $"{accepted} accepted and {rejected} rejected: the generator misses one side");
        TestContext.Current.TestOutputHelper?.WriteLine($"{tried} configuration sections tried: {accepted} accepted, {rejected} rejected with OptionsValidationException");
    }
}
