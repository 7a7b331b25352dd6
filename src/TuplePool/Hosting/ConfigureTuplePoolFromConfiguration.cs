using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace TuplePool.Hosting;

/// <summary>Binds one named <see cref="TuplePoolOptions"/> from a configuration section (trim-safe).</summary>
internal sealed class ConfigureTuplePoolFromConfiguration(string name, IConfiguration section) : IConfigureNamedOptions<TuplePoolOptions>
{
    public void Configure(string? name1, TuplePoolOptions options)
    {
        if (string.Equals(name1 ?? Options.DefaultName, name, StringComparison.Ordinal))
        {
            TuplePoolConfigurationBinder.Bind(section, options);
        }
    }

    public void Configure(TuplePoolOptions options) => Configure(Options.DefaultName, options);
}
