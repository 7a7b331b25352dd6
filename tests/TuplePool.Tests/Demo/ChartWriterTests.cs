using System.Buffers.Binary;
using SkiaSharp;
using TuplePool.Demo.Pictures;

namespace TuplePool.Tests.Demo;

/// <summary>The demo's PNG pictures, drawn from sample data like the scenarios measure.</summary>
public sealed class ChartWriterTests : IDisposable
{
    private static readonly byte[] s_pngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    // The demo's colours for plain sockets and the pool (ChartWriter).
    private static readonly SKColor s_plain = SKColor.Parse("#d62728");
    private static readonly SKColor s_pool = SKColor.Parse("#1f77b4");

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tuplepool-pictures-" + Guid.NewGuid().ToString("N"));

    public ChartWriterTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void WriteConnectCurve_SampleCurve_WritesPngWithBothSidesDrawn()
    {
        var path = Path.Combine(_folder, "curve.png");

        ChartWriter.WriteConnectCurve(SampleCurve(), path);

        var bytes = File.ReadAllBytes(path);
        AssertPng(bytes, ChartWriter.Width, ChartWriter.Height);
        using var image = SKBitmap.Decode(bytes);
        Assert.True(CountPixels(image, s_plain) > 200, "the plain curve is not drawn");
        Assert.True(CountPixels(image, s_pool) > 200, "the pool curve is not drawn");
    }

    [Fact]
    public void WriteChurn_SampleTimelines_WritesPngWithBothSidesDrawn()
    {
        var path = Path.Combine(_folder, "churn.png");

        ChartWriter.WriteChurn(SamplePlainChurn(), SamplePoolChurn(), path);

        var bytes = File.ReadAllBytes(path);
        AssertPng(bytes, ChartWriter.Width, ChartWriter.Height * 3 / 2);
        using var image = SKBitmap.Decode(bytes);
        Assert.True(CountPixels(image, s_plain) > 200, "the plain lines are not drawn");
        Assert.True(CountPixels(image, s_pool) > 200, "the pool lines are not drawn");
    }

    [Fact]
    public void WriteChurn_TimeWaitUnreadable_StillDrawsTheRates()
    {
        var path = Path.Combine(_folder, "churn.png");
        var plain = SamplePlainChurn().Select(p => p with { TimeWait = null }).ToList();
        var pool = SamplePoolChurn().Select(p => p with { TimeWait = null }).ToList();

        ChartWriter.WriteChurn(plain, pool, path);

        AssertPng(File.ReadAllBytes(path), ChartWriter.Width, ChartWriter.Height * 3 / 2);
    }

    [Fact]
    public void WriteAll_BothMeasured_WritesBothFilesAndSaysWhere()
    {
        var pictures = new DemoPictures();
        pictures.SetConnectCurve(SampleCurve());
        pictures.SetChurn(SamplePlainChurn(), SamplePoolChurn());
        var log = new List<string>();
        var folder = Path.Combine(_folder, "out");

        var written = pictures.WriteAll(folder, log.Add);

        Assert.Equal(
            [Path.Combine(folder, DemoPictures.ConnectCurveFile), Path.Combine(folder, DemoPictures.ChurnFile)],
            written);
        Assert.All(written, path => AssertPng(File.ReadAllBytes(path), ChartWriter.Width, expectedHeight: null));
        Assert.Equal(written.Select(path => $"wrote {path}"), log);
    }

    [Fact]
    public void WriteAll_FolderIsAFile_LogsWhyAndDoesNotThrow()
    {
        var pictures = new DemoPictures();
        pictures.SetConnectCurve(SampleCurve());
        var blocker = Path.Combine(_folder, "not-a-folder");
        File.WriteAllText(blocker, "x");
        var log = new List<string>();

        var written = pictures.WriteAll(Path.Combine(blocker, "pictures"), log.Add);

        Assert.Empty(written);
        var line = Assert.Single(log);
        Assert.StartsWith("not drawn: cannot create the folder", line, StringComparison.Ordinal);
        Assert.Matches(@"\(\w+Exception: .+\)$", line);   // the reason, as the exception gave it
    }

    [Fact]
    public void WriteAll_DrawingFails_LogsWhyAndWritesTheOthers()
    {
        var pictures = new DemoPictures();
        pictures.SetConnectCurve([]);   // no point to draw: ChartWriter refuses it
        pictures.SetChurn(SamplePlainChurn(), SamplePoolChurn());
        var log = new List<string>();

        var written = pictures.WriteAll(_folder, log.Add);

        Assert.Equal([Path.Combine(_folder, DemoPictures.ChurnFile)], written);
        Assert.Equal(2, log.Count);
        Assert.StartsWith($"not drawn: {DemoPictures.ConnectCurveFile} (ArgumentOutOfRangeException", log[0], StringComparison.Ordinal);
    }

    [Fact]
    public void WriteAll_NothingMeasured_WritesNothingAndMakesNoFolder()
    {
        var folder = Path.Combine(_folder, "unused");
        var log = new List<string>();

        var written = new DemoPictures().WriteAll(folder, log.Add);

        Assert.Empty(written);
        Assert.Empty(log);
        Assert.False(Directory.Exists(folder));
    }

    private static void AssertPng(byte[] bytes, int expectedWidth, int? expectedHeight)
    {
        Assert.True(bytes.Length > 10_000, $"a {bytes.Length}-byte PNG has hardly anything in it");
        Assert.Equal(s_pngSignature, bytes[..8]);

        // The first chunk is IHDR: length 13, type, then width and height big-endian.
        Assert.Equal("IHDR"u8.ToArray(), bytes[12..16]);
        Assert.Equal(expectedWidth, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        if (expectedHeight is { } height)
        {
            Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
    }

    private static int CountPixels(SKBitmap image, SKColor color)
    {
        var count = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                if (image.GetPixel(x, y) == color)
                {
                    count++;
                }
            }
        }

        return count;
    }

    // Shaped like a real run: flat until the even ports fill (about half of 28,232), then plain climbs.
    private static List<ConnectPoint> SampleCurve() =>
        Enumerable.Range(0, 17)
            .Select(i => i * 1000)
            .Select(open => new ConnectPoint(open, open < 14_000 ? 80 : 80 + ((open - 13_000) * 1.5), open < 14_000 ? 75 : 150, 70))
            .ToList();

    private static List<ChurnPoint> SamplePlainChurn() =>
        Enumerable.Range(0, 21).Select(i => new ChurnPoint(i * 0.1, Math.Min(1000, i * 300), i == 0 ? double.NaN : i < 4 ? 3000 : 500)).ToList();

    private static List<ChurnPoint> SamplePoolChurn() =>
        Enumerable.Range(0, 21).Select(i => new ChurnPoint(i * 0.1, 0, i == 0 ? double.NaN : 15_000)).ToList();
}
