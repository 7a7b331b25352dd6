using Microsoft.Extensions.Options;
using TuplePool.Options;
using TuplePool.Platform;

namespace TuplePool.Hosting;

/// <summary>
/// Runs <see cref="TuplePoolOptionsValidator"/> for every named <see cref="TuplePoolOptions"/>;
/// registered by <c>AddTuplePool</c> with <c>ValidateOnStart</c>, so a bad setting stops the host
/// from starting, with the pool's name and the setting in the message.
/// </summary>
internal sealed class ValidateTuplePoolOptions : IValidateOptions<TuplePoolOptions>
{
    private readonly Func<KernelSettings?> _readKernel;

    /// <summary>Validates against this machine's kernel (<see cref="KernelSettings.Current"/>, read once per process).</summary>
    public ValidateTuplePoolOptions()
        : this(static () => KernelSettings.Current)
    {
    }

    /// <summary>Validates against the kernel settings <paramref name="readKernel"/> returns (tests).</summary>
    internal ValidateTuplePoolOptions(Func<KernelSettings?> readKernel) => _readKernel = readKernel;

    public ValidateOptionsResult Validate(string? name, TuplePoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = TuplePoolOptionsValidator.Validate(options, _readKernel, SourceAddressProbe.TryBind, SourcePrefixProbe.Check);
        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(failures.Select(f => Prefix(name) + f));
    }

    /// <summary>How every start-up failure begins: <c>"TuplePool: "</c>, or <c>"TuplePool 'name': "</c> for a named pool.</summary>
    internal static string Prefix(string? name)
        => string.IsNullOrEmpty(name) ? "TuplePool: " : $"TuplePool '{name}': ";
}
