using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using TuplePool.Options;

namespace TuplePool.Hosting;

/// <summary>
/// Binds one named <see cref="TuplePoolOptions"/> from a configuration section (trim-safe), and
/// reports at validation what the section holds that could not be read, and keys that are no
/// setting. The errors are not kept between the two steps: binding is a pure function of the
/// section's text, so validation binds the same section once more onto a scratch instance and
/// reports that bind's errors. Subsections named after a registered pool are that pool's.
/// </summary>
internal sealed class ConfigureTuplePoolFromConfiguration(string name, IConfiguration section, TuplePoolNames pools)
    : IConfigureNamedOptions<TuplePoolOptions>, IValidateOptions<TuplePoolOptions>
{
    public void Configure(string? name1, TuplePoolOptions options)
    {
        if (IsMine(name1))
        {
            TuplePoolConfigurationBinder.Bind(section, options);
        }
    }

    public void Configure(TuplePoolOptions options) => Configure(Microsoft.Extensions.Options.Options.DefaultName, options);

    public ValidateOptionsResult Validate(string? name1, TuplePoolOptions options)
    {
        if (!IsMine(name1))
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = TuplePoolConfigurationBinder.Bind(section, new TuplePoolOptions(), pools.Names);
        return errors.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(errors.Select(e => ValidateTuplePoolOptions.Prefix(name1) + e));
    }

    private bool IsMine(string? optionsName)
        => string.Equals(optionsName ?? Microsoft.Extensions.Options.Options.DefaultName, name, StringComparison.Ordinal);
}
