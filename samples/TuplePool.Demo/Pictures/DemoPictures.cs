namespace TuplePool.Demo.Pictures;

/// <summary>
/// What the scenarios measured for the pictures, and the step that draws them at the end of the
/// run. Drawing is a side show: a failure (no native Skia library, an unwritable folder) is logged
/// with its reason and never fails the demo.
/// </summary>
internal sealed class DemoPictures
{
    public const string ConnectCurveFile = "crowded-connect.png";
    public const string ChurnFile = "churn.png";

    private IReadOnlyList<ConnectPoint>? _connectCurve;
    private (IReadOnlyList<ChurnPoint> Plain, IReadOnlyList<ChurnPoint> Pool)? _churn;

    public void SetConnectCurve(IReadOnlyList<ConnectPoint> points) => _connectCurve = points;

    public void SetChurn(IReadOnlyList<ChurnPoint> plain, IReadOnlyList<ChurnPoint> pool) => _churn = (plain, pool);

    /// <summary>Draws what was measured into <paramref name="folder"/>; returns the files written. Never throws.</summary>
    public IReadOnlyList<string> WriteAll(string folder, Action<string> log)
    {
        var written = new List<string>();
        if (_connectCurve is null && _churn is null)
        {
            return written;
        }

        string full;
        try
        {
            full = Path.GetFullPath(folder);
            Directory.CreateDirectory(full);
        }
        catch (Exception e)
        {
            log($"not drawn: cannot create the folder '{folder}' ({Reason(e)})");
            return written;
        }

        if (_connectCurve is { } curve)
        {
            Draw(Path.Combine(full, ConnectCurveFile), path => ChartWriter.WriteConnectCurve(curve, path));
        }

        if (_churn is { } churn)
        {
            Draw(Path.Combine(full, ChurnFile), path => ChartWriter.WriteChurn(churn.Plain, churn.Pool, path));
        }

        return written;

        void Draw(string path, Action<string> draw)
        {
            try
            {
                draw(path);
                written.Add(path);
                log($"wrote {path}");
            }
            catch (Exception e)
            {
                // Anything: a missing native library surfaces as TypeInitializationException or
                // DllNotFoundException, a full disk as IOException. The tables are the result.
                log($"not drawn: {Path.GetFileName(path)} ({Reason(e)})");
            }
        }
    }

    private static string Reason(Exception e)
    {
        var inner = e.GetBaseException();
        return $"{inner.GetType().Name}: {inner.Message}";
    }
}
