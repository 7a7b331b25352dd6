using Microsoft.Extensions.Options;

namespace TuplePool.Hosting;

/// <summary>
/// Runs <see cref="TuplePoolOptionsValidator"/> for every named <see cref="TuplePoolOptions"/>;
/// registered by <c>AddTuplePool</c> with <c>ValidateOnStart</c>, so a bad setting stops the host
/// from starting, with the pool's name and the setting in the message.
/// </summary>
internal sealed class ValidateTuplePoolOptions : IValidateOptions<TuplePoolOptions>
{
    private readonly Func<PortFacts?> _readPortFacts;

    /// <summary>Validates against this machine's kernel.</summary>
    public ValidateTuplePoolOptions()
        : this(PortFacts.ReadSystem)
    {
    }

    /// <summary>Validates against the kernel facts <paramref name="readPortFacts"/> returns (tests).</summary>
    internal ValidateTuplePoolOptions(Func<PortFacts?> readPortFacts)
    {
        // Read once per process: the facts do not change while it runs, and several named pools
        // would otherwise read /proc once each.
        var facts = new Lazy<PortFacts?>(readPortFacts);
        _readPortFacts = () => facts.Value;
    }

    public ValidateOptionsResult Validate(string? name, TuplePoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = TuplePoolOptionsValidator.Validate(options, _readPortFacts, SourceAddressProbe.TryBind);
        if (failures.Count == 0)
        {
            return ValidateOptionsResult.Success;
        }

        var prefix = string.IsNullOrEmpty(name) ? "TuplePool: " : $"TuplePool '{name}': ";
        return ValidateOptionsResult.Fail(failures.Select(f => prefix + f));
    }
}
