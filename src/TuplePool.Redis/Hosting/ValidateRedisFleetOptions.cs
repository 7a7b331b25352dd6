using Microsoft.Extensions.Options;

namespace TuplePool.Redis.Hosting;

/// <summary>
/// Runs <see cref="RedisFleetOptions.Validate"/> at host start (<c>ValidateOnStart</c>), so a bad
/// setting stops the host with the setting's name instead of failing at the first connection.
/// </summary>
internal sealed class ValidateRedisFleetOptions : IValidateOptions<RedisFleetOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisFleetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = options.Validate();
        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(failures.Select(static f => "TuplePool Redis fleet: " + f));
    }
}
