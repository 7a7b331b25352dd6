using System.Text.RegularExpressions;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Docs;

/// <summary>The pictures README.md shows are files of the repository, named by relative paths.</summary>
public sealed partial class ReadmeImagesTests
{
    private static readonly byte[] s_pngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void Images_EachIsARelativePathToAPngInTheRepository_TheDemosAmongThem()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var paths = ImagePattern().Matches(readme).Select(m => m.Groups[1].Value).ToList();

        Assert.Contains("docs/images/crowded-connect.png", paths);
        Assert.Contains("docs/images/churn.png", paths);
        Assert.All(paths, path =>
        {
            Assert.False(Path.IsPathRooted(path) || path.Contains("://", StringComparison.Ordinal), $"{path} is not relative to the repository");
            var file = Path.Combine(Repository.Root, path);
            Assert.True(File.Exists(file), $"README.md shows {path}, which does not exist");
            Assert.Equal(s_pngSignature, File.ReadAllBytes(file)[..8]);
        });
    }

    [GeneratedRegex(@"!\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex ImagePattern();
}
