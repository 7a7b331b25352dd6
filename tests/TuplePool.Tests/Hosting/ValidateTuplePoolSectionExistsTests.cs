using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TuplePool.Tests.Hosting;

/// <summary>
/// <c>AddTuplePool(configuration)</c> with a section that is not there (a misspelt name or path):
/// start-up fails naming the section, and a close sibling, instead of starting a pool on every
/// default with the kernel choosing the sources.
/// </summary>
public sealed class ValidateTuplePoolSectionExistsTests
{
    private const string Settings = """{ "SourceAddresses": [ "127.0.0.2" ], "AcquireTimeout": "00:00:05" }""";

    private static IConfigurationRoot Json(string json)
        => new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    private static OptionsValidationException StartFails(IServiceProvider provider)
    {
        var e = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        return e as OptionsValidationException
            ?? Assert.IsType<OptionsValidationException>(Assert.Single(Assert.IsType<AggregateException>(e).InnerExceptions));
    }

    [Fact]
    public async Task HostStart_SectionMisspelt_FailsNamingTheSectionAndTheSibling()
    {
        // The user's case: the settings under "TuplePol", the section asked for "TuplePool".
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""{ "Logging": { "LogLevel": { "Default": "Warning" } }, "TuplePol": {{Settings}} }""")));
        builder.Services.AddTuplePool(builder.Configuration.GetSection("TuplePool"));
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(
            "TuplePool: the configuration section 'TuplePool' does not exist, so the pool would start on every default, the kernel choosing its source addresses. Did you mean 'TuplePol'?",
            Assert.Single(e.Failures));
    }

    [Fact]
    public async Task RootConfiguration_SectionMisspelt_FailsNamingTheSibling()
    {
        await using var provider = new ServiceCollection().AddTuplePool(Json($$"""{ "tuplepol": {{Settings}} }""")).BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.StartsWith("TuplePool: the configuration section 'TuplePool' does not exist", failure, StringComparison.Ordinal);
        Assert.EndsWith("Did you mean 'tuplepol'?", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SectionOfADeeperPath_Misspelt_NamesTheWholePathAndTheSibling()
    {
        var configuration = Json($$"""{ "Outbound": { "Pools": {{Settings}}, "Retries": 3 } }""");
        await using var provider = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration) // as a host registers the application's configuration
            .AddTuplePool(configuration.GetSection("Outbound:Pool"))
            .BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.StartsWith("TuplePool: the configuration section 'Outbound:Pool' does not exist", failure, StringComparison.Ordinal);
        Assert.EndsWith("Did you mean 'Outbound:Pools'?", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SectionMissing_NoSiblingClose_NamesTheSectionAndWhatToDo()
    {
        await using var provider = new ServiceCollection().AddTuplePool(Json($$"""{ "Backend": {{Settings}} }""")).BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.Equal(
            "TuplePool: the configuration section 'TuplePool' does not exist, so the pool would start on every default, the kernel choosing its source addresses. "
            + "Put the settings under 'TuplePool' or pass the section that holds them; AddTuplePool(o => ...) without configuration starts on the defaults.",
            failure);
    }

    [Fact]
    public async Task SectionGiven_NoConfigurationInTheContainer_StillFailsNamingTheSection()
    {
        // Without the application's configuration the siblings are unknown, not the missing section.
        var configuration = Json($$"""{ "TuplePol": {{Settings}} }""");
        await using var provider = new ServiceCollection().AddTuplePool(configuration.GetSection("TuplePool")).BuildServiceProvider();

        var failure = Assert.Single(StartFails(provider).Failures);

        Assert.StartsWith("TuplePool: the configuration section 'TuplePool' does not exist", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("Did you mean", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NamedPool_SubsectionMisspelt_FailsForThatPoolNamingItsPathAndTheSibling()
    {
        var configuration = Json($$"""{ "TuplePool": { "MaxConnectAttempts": 4, "replica": {{Settings}} } }""");
        await using var provider = new ServiceCollection()
            .AddTuplePool(configuration)
            .AddTuplePool("replicas", configuration)
            .BuildServiceProvider();

        var e = StartFails(provider);

        Assert.Equal("replicas", e.OptionsName);
        var failure = Assert.Single(e.Failures);
        Assert.StartsWith("TuplePool 'replicas': the configuration section 'TuplePool:replicas' does not exist", failure, StringComparison.Ordinal);
        Assert.EndsWith("Did you mean 'TuplePool:replica'?", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SectionWrittenEmpty_StartsOnTheDefaults()
    {
        // "TuplePool": {} says "the defaults" on purpose; the JSON provider keeps it as a key
        // without a value, which IConfigurationSection.Exists() calls missing.
        var configuration = Json("""{ "TuplePool": {} }""");
        await using var provider = new ServiceCollection().AddTuplePool(configuration).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();

        Assert.False(configuration.GetSection("TuplePool").Exists());
        Assert.Equal(TuplePoolDefaults.AcquireTimeout, provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value.AcquireTimeout);
    }

    [Fact]
    public async Task SectionGiven_Present_StartsWithItsSettings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["TuplePool:AcquireTimeout"] = "00:00:05" }).Build();
        await using var provider = new ServiceCollection().AddTuplePool(configuration.GetSection("TuplePool")).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(TimeSpan.FromSeconds(5), provider.GetRequiredService<IOptions<TuplePoolOptions>>().Value.AcquireTimeout);
    }
}
