using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using TuplePool.Options;

namespace TuplePool.Hosting;

/// <summary>
/// Fails start-up when the configuration section a pool was registered with does not exist. A
/// section that is not there binds nothing and reports nothing, so without this a misspelt
/// <c>"TuplePol"</c> (or a section path with a typo) would start a pool on every default, the
/// kernel choosing its source addresses, without a word. The message names the section's path and,
/// when a sibling section's name is close (the binder's "did you mean",
/// <see cref="TuplePoolConfigurationBinder.Nearest"/>), that sibling.
/// </summary>
/// <remarks>
/// The siblings are read from <paramref name="root"/>, the configuration the section's path starts
/// from: the configuration given to <c>AddTuplePool</c> when the pool's section was taken from it,
/// else the application's <see cref="IConfiguration"/> from the container (a section does not know
/// its root). A section written but left empty (<c>"TuplePool": {}</c>, which the JSON provider
/// keeps as a key without a value) is there on purpose and passes; it can be told from a missing
/// one only where the root is known.
/// </remarks>
internal sealed class ValidateTuplePoolSectionExists(string name, IConfiguration section, IConfiguration? root)
    : IValidateOptions<TuplePoolOptions>
{
    public ValidateOptionsResult Validate(string? name1, TuplePoolOptions options)
    {
        if (!string.Equals(name1 ?? Microsoft.Extensions.Options.Options.DefaultName, name, StringComparison.Ordinal)
            || section is not IConfigurationSection own)
        {
            return ValidateOptionsResult.Skip;
        }

        if (own.Exists())
        {
            return ValidateOptionsResult.Success;
        }

        var siblings = Siblings(own);
        if (siblings.Any(s => string.Equals(s.Key, own.Key, StringComparison.OrdinalIgnoreCase)))
        {
            return ValidateOptionsResult.Success;
        }

        var nearest = TuplePoolConfigurationBinder.Nearest(own.Key, siblings.Where(s => s.GetChildren().Any()).Select(s => s.Key));
        var hint = nearest is null
            ? $"Put the settings under '{own.Path}' or pass the section that holds them; AddTuplePool(o => ...) without configuration starts on the defaults."
            : $"Did you mean '{Combine(ConfigurationPath.GetParentPath(own.Path), nearest)}'?";
        return ValidateOptionsResult.Fail(
            $"{ValidateTuplePoolOptions.Prefix(name1)}the configuration section '{own.Path}' does not exist, so the pool would start on every default, the kernel choosing its source addresses. {hint}");
    }

    private List<IConfigurationSection> Siblings(IConfigurationSection own)
    {
        if (root is null)
        {
            return [];
        }

        var parentPath = ConfigurationPath.GetParentPath(own.Path);
        var parent = string.IsNullOrEmpty(parentPath) ? root : root.GetSection(parentPath);
        return [.. parent.GetChildren()];
    }

    private static string Combine(string? parentPath, string key)
        => string.IsNullOrEmpty(parentPath) ? key : ConfigurationPath.Combine(parentPath, key);
}
