using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Connecting;

namespace TuplePool.Tests.Connecting;

/// <summary>The memory of failed and silent addresses on its own, on a fake clock; the race that uses it is in <see cref="AddressRaceTests"/>.</summary>
public sealed class AddressHistoryTests
{
    private static readonly IPEndPoint V6 = new(IPAddress.IPv6Loopback, 20001);
    private static readonly IPEndPoint V4 = new(IPAddress.Loopback, 20001);

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Failed_IsRememberedForItsTime_ThenForgotten()
    {
        var history = new AddressHistory(_time);

        history.Failed(V6);
        _time.Advance(AddressHistory.RememberFor - TimeSpan.FromSeconds(1));
        Assert.True(history.IsRemembered(V6, _time.GetTimestamp()));
        Assert.False(history.IsRemembered(V4, _time.GetTimestamp()));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(history.IsRemembered(V6, _time.GetTimestamp()));
        Assert.Equal(0, history.Count); // the expired record is dropped when read
    }

    [Fact]
    public void Worked_ForgetsAFailure()
    {
        var history = new AddressHistory(_time);
        history.Failed(V6);

        history.Worked(new IPEndPoint(IPAddress.IPv6Loopback, 20001)); // equal by value

        Assert.False(history.IsRemembered(V6, _time.GetTimestamp()));
    }

    [Fact]
    public void Failed_AgainLater_CountsFromTheLatestFailure()
    {
        var history = new AddressHistory(_time);
        history.Failed(V6);
        _time.Advance(TimeSpan.FromMinutes(5));

        history.Failed(V6);
        _time.Advance(AddressHistory.RememberFor - TimeSpan.FromSeconds(1));

        Assert.True(history.IsRemembered(V6, _time.GetTimestamp()));
    }

    [Fact]
    public void Full_ANewFailureIsNotRecorded_UntilOldOnesExpire()
    {
        var history = new AddressHistory(_time);
        for (var i = 0; i < AddressHistory.MaxEntries; i++)
        {
            history.Failed(new IPEndPoint(IPAddress.Loopback, 1000 + i));
        }

        history.Failed(V6);
        Assert.False(history.IsRemembered(V6, _time.GetTimestamp()));
        Assert.Equal(AddressHistory.MaxEntries, history.Count);

        _time.Advance(AddressHistory.RememberFor);
        history.Failed(V6);
        Assert.True(history.IsRemembered(V6, _time.GetTimestamp()));
        Assert.Equal(1, history.Count);
    }
}
