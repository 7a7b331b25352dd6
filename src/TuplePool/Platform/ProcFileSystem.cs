namespace TuplePool.Platform;

/// <summary>The real <c>/proc</c>.</summary>
internal sealed class ProcFileSystem : IProcFileSystem
{
    public static readonly ProcFileSystem Default = new();

    public string? TryReadAllText(string path) => throw new NotImplementedException("Platform: filled in by the Platform work.");
}
