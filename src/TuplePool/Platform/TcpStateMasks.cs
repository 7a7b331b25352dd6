namespace TuplePool.Platform;

/// <summary>Membership tests on <see cref="TcpStateMask"/>.</summary>
internal static class TcpStateMasks
{
    /// <summary>True when <paramref name="state"/> is one of <paramref name="mask"/>.</summary>
    public static bool Contains(this TcpStateMask mask, TcpState state)
        => state is >= TcpState.Established and <= TcpState.NewSynRecv && ((int)mask & (1 << (int)state)) != 0;
}
