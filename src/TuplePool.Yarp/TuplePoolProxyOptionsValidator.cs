using Microsoft.Extensions.Options;

namespace TuplePool.Yarp;

/// <summary>Checks <see cref="TuplePoolProxyOptions"/> when the host starts (<c>ValidateOnStart</c>), naming the setting and its value.</summary>
internal sealed class TuplePoolProxyOptionsValidator : IValidateOptions<TuplePoolProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, TuplePoolProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.RetryAfter < TimeSpan.Zero || options.RetryAfter > TuplePoolProxyDefaults.MaxRetryAfter)
        {
            return ValidateOptionsResult.Fail(
                $"TuplePool.Yarp: RetryAfter is {options.RetryAfter}; it must be zero or positive and at most {TuplePoolProxyDefaults.MaxRetryAfter}.");
        }

        return ValidateOptionsResult.Success;
    }
}
