namespace TuplePool.Platform;

/// <summary>Reads kernel files under <c>/proc</c>; a seam so parsers are tested on captured text.</summary>
internal interface IProcFileSystem
{
    /// <summary>The whole file, or null when it is missing or cannot be read (not Linux, a restricted container).</summary>
    string? TryReadAllText(string path);
}
