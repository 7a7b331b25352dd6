namespace TuplePool.Tests.Support;

/// <summary>Where the repository's files are, found from the test binaries upwards.</summary>
internal static class Repository
{
    private static readonly Lazy<string> RootDirectory = new(Find);

    /// <summary>The directory holding <c>TuplePool.sln</c>.</summary>
    public static string Root => RootDirectory.Value;

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TuplePool.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TuplePool.sln not found above " + AppContext.BaseDirectory);
    }
}
