namespace TuplePool.Doctor;

/// <summary>What <c>tuplepool doctor</c> returns.</summary>
internal static class ExitCodes
{
    /// <summary>Every line ok or warn.</summary>
    public const int Ok = 0;

    /// <summary>At least one line failed.</summary>
    public const int Failed = 1;

    /// <summary>Bad input: an unknown option, a config file that does not parse, a section that does not exist.</summary>
    public const int BadInput = 2;
}
