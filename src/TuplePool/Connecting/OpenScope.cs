namespace TuplePool.Connecting;

/// <summary>
/// The connections one open made while a user's strategies (<see cref="TuplePoolOptions.ConfigureConnectPipeline"/>)
/// ran around it. A strategy may run the open more than once and keep one result (hedging, a
/// retry on a result, a fallback); whatever it does not hand back is closed and its charge
/// released when the pipeline returns — and a connection that completes after that (a hedged
/// attempt still running) is closed as it arrives. Only opens with user strategies have a scope.
/// </summary>
internal sealed class OpenScope
{
    private readonly List<OpenedConnection> _opened = new(2);
    private bool _completed;

    /// <summary>A connection this open made; closed at once when the pipeline has already returned.</summary>
    public void Track(OpenedConnection opened)
    {
        lock (_opened)
        {
            if (!_completed)
            {
                _opened.Add(opened);
                return;
            }
        }

        opened.Dispose();
    }

    /// <summary>The pipeline returned <paramref name="kept"/> (null when it threw or found no room): every other connection goes.</summary>
    public void Complete(OpenedConnection? kept)
    {
        OpenedConnection[] others;
        lock (_opened)
        {
            _completed = true;
            others = [.. _opened.Where(o => !ReferenceEquals(o, kept))];
            _opened.Clear();
        }

        foreach (var opened in others)
        {
            opened.Dispose();
        }
    }
}
