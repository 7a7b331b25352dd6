using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Pooling;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Name resolution on its own, with a scripted lookup in place of DNS (no query leaves the
/// process) and a fake clock for the refresh interval, the negative cache and the lookup bound.
/// </summary>
public sealed class AddressResolverTests
{
    private static readonly IPAddress V4 = IPAddress.Loopback;
    private static readonly IPAddress V6 = IPAddress.IPv6Loopback;

    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _lookups = [];
    private Func<IPAddress[]> _answer = () => [V4];
    private TaskCompletionSource<IPAddress[]>? _pending;

    [Fact]
    public async Task IPEndPoint_IsItsOwnAnswer_WithoutALookup()
    {
        var destination = new IPEndPoint(V4, 8080);
        var resolver = CreateSut(destination);

        var addresses = await resolver.ResolveAsync(default);

        Assert.Equal([destination], addresses);
        Assert.Empty(_lookups);
    }

    [Fact]
    public async Task Name_IsReusedWithinTheRefreshInterval_AndLookedUpAgainAfterIt()
    {
        var resolver = CreateSut(Name(), refresh: TimeSpan.FromSeconds(60));

        await resolver.ResolveAsync(default);
        _time.Advance(TimeSpan.FromSeconds(59));
        await resolver.ResolveAsync(default);
        Assert.Single(_lookups);

        _time.Advance(TimeSpan.FromSeconds(1));
        await resolver.ResolveAsync(default);
        Assert.Equal(2, _lookups.Count);
    }

    [Fact]
    public async Task InfiniteRefreshInterval_ANameIsLookedUpOnce()
    {
        // "infinite" (-1 ms) compared as "always stale".
        var resolver = CreateSut(Name(), refresh: Timeout.InfiniteTimeSpan);

        for (var i = 0; i < 5; i++)
        {
            await resolver.ResolveAsync(default);
            _time.Advance(TimeSpan.FromDays(1));
        }

        Assert.Single(_lookups);
    }

    [Fact]
    public async Task FailedRefresh_KeepsThePreviousAnswer()
    {
        var resolver = CreateSut(Name(), refresh: TimeSpan.FromSeconds(1));
        var first = await resolver.ResolveAsync(default);
        _answer = () => throw new SocketException((int)SocketError.TryAgain);
        _time.Advance(TimeSpan.FromSeconds(2));

        var second = await resolver.ResolveAsync(default);

        Assert.Equal(first, second);
        Assert.Equal(2, _lookups.Count);
    }

    [Fact]
    public async Task UnresolvableName_ThrowsHostNotFoundNamingIt_AndIsNotAskedAgainForAWhile()
    {
        // a raw SocketException each time, one lookup per caller.
        _answer = () => throw new SocketException((int)SocketError.HostNotFound);
        var resolver = CreateSut(new DnsEndPoint("db.example", 5432));

        var first = await Assert.ThrowsAsync<SocketException>(() => resolver.ResolveAsync(default).AsTask());
        var second = await Assert.ThrowsAsync<SocketException>(() => resolver.ResolveAsync(default).AsTask());

        Assert.Equal(SocketError.HostNotFound, first.SocketErrorCode);
        Assert.Contains("'db.example'", first.Message, StringComparison.Ordinal);
        Assert.Equal(first.Message, second.Message);
        Assert.NotSame(first, second); // one exception per caller
        Assert.Single(_lookups);

        _time.Advance(AddressResolver.NegativeCacheDuration);
        _answer = () => [V4];
        Assert.Equal([new IPEndPoint(V4, 5432)], await resolver.ResolveAsync(default));
        Assert.Equal(2, _lookups.Count);
    }

    [Fact]
    public async Task NameWithNoAddresses_ThrowsHostNotFound()
    {
        _answer = () => [];
        var resolver = CreateSut(Name());

        var error = await Assert.ThrowsAsync<SocketException>(() => resolver.ResolveAsync(default).AsTask());

        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
        Assert.Contains("returned no address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LookupThatNeverAnswers_IsBoundedByConnectTimeout()
    {
        // the lookup was bounded by neither timeout.
        _pending = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var resolver = CreateSut(Name(), lookupTimeout: TimeSpan.FromSeconds(10));

        var resolving = resolver.ResolveAsync(default).AsTask();
        Assert.False(resolving.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(10));

        var error = await Assert.ThrowsAsync<SocketException>(() => resolving.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Contains("ConnectTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelledCaller_GetsOperationCanceled()
    {
        _pending = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var resolver = CreateSut(Name());
        using var cts = new CancellationTokenSource();

        var resolving = resolver.ResolveAsync(cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => resolving.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Answers_AreNormalisedToWhatTheKernelSees_AndFilteredToFamiliesWithSources()
    {
        _answer = () => [V4.MapToIPv6(), V4, V6];
        var resolver = CreateSut(Name(), hasSourceFor: f => f == AddressFamily.InterNetwork);

        var addresses = await resolver.ResolveAsync(default);

        Assert.Equal([new IPEndPoint(V4, 80)], addresses);
        Assert.True(resolver.MayUse(new IPEndPoint(V4, 80)));
        Assert.False(resolver.MayUse(new IPEndPoint(V6, 80)));
    }

    [Fact]
    public async Task NameOfOnlyTheFamilyWithoutSources_IsAConfigurationError()
    {
        // a family mismatch says so, instead of "exhausted" or "host not found".
        _answer = () => [V6];
        var resolver = CreateSut(new DnsEndPoint("v6only.example", 443), hasSourceFor: f => f == AddressFamily.InterNetwork);

        var error = await Assert.ThrowsAsync<SocketException>(() => resolver.ResolveAsync(default).AsTask());

        Assert.Equal(SocketError.AddressFamilyNotSupported, error.SocketErrorCode);
        Assert.Contains("no IPv6 source address is configured for v6only.example:443", error.Message, StringComparison.Ordinal);
        Assert.Contains("::1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("::", "::")]
    [InlineData("::ffff:0.0.0.0", "0.0.0.0")]
    [InlineData("255.255.255.255", "255.255.255.255")]
    [InlineData("224.0.0.1", "224.0.0.1")]
    [InlineData("ff02::1", "ff02::1")]
    public async Task AnswerOfOnlyAnAddressNoConnectionCanBeMadeTo_ThrowsNamingTheNameAndTheAddress(string answer, string shown)
    {
        // A hosts file or DNS blocklist answers 0.0.0.0 (or ::) for a blocked name; Linux
        // connects 0.0.0.0 to this machine itself, and the ledger would budget a tuple that is not there.
        _answer = () => [IPAddress.Parse(answer)];
        var resolver = CreateSut(new DnsEndPoint("blocked.example", 443));

        var error = await Assert.ThrowsAsync<SocketException>(() => resolver.ResolveAsync(default).AsTask());

        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
        Assert.Contains("'blocked.example'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{shown} ", error.Message, StringComparison.Ordinal);
        Assert.Empty(resolver.Current);
    }

    [Fact]
    public async Task AnswerWithUnspecifiedAndUnicastAddresses_KeepsOnlyTheUnicastOnes()
    {
        _answer = () => [IPAddress.Any, V4, IPAddress.IPv6Any, V6];
        var resolver = CreateSut(Name());

        var addresses = await resolver.ResolveAsync(default);

        Assert.Equal([new IPEndPoint(V4, 80), new IPEndPoint(V6, 80)], addresses);
        Assert.False(resolver.MayUse(new IPEndPoint(IPAddress.Any, 80)));
    }

    [Fact]
    public async Task RefreshThatAnswersOnlyTheUnspecifiedAddress_KeepsThePreviousAnswer()
    {
        var resolver = CreateSut(Name(), refresh: TimeSpan.FromSeconds(1));
        var first = await resolver.ResolveAsync(default);
        _answer = () => [IPAddress.Any];
        _time.Advance(TimeSpan.FromSeconds(2));

        var second = await resolver.ResolveAsync(default);

        Assert.Equal(first, second);
        Assert.Equal(2, _lookups.Count);
    }

    [Fact]
    public async Task AnsweredAddresses_AreThePoolsOwnCopies()
    {
        // The lookup's objects stay the lookup's: an address whose scope the lookup changes later
        // (or a subclass with equality of its own) must not change a key the pool compares.
        var answered = IPAddress.Parse("fe80::1");
        answered.ScopeId = 2;
        _answer = () => [answered];
        var resolver = CreateSut(Name());

        var address = Assert.Single(await resolver.ResolveAsync(default));
        answered.ScopeId = 7;

        Assert.Equal(2, address.Address.ScopeId);
        Assert.NotSame(answered, address.Address);
    }

    private static DnsEndPoint Name() => new("service.example", 80);

    private AddressResolver CreateSut(EndPoint destination, TimeSpan? refresh = null, TimeSpan? lookupTimeout = null, Func<AddressFamily, bool>? hasSourceFor = null)
        => new(
            destination,
            hasSourceFor ?? (_ => true),
            _time,
            refresh ?? TimeSpan.FromSeconds(60),
            lookupTimeout ?? TimeSpan.FromSeconds(10),
            NullLogger.Instance,
            LookUpAsync);

    private Task<IPAddress[]> LookUpAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        _lookups.Add(host);
        if (_pending is { } pending)
        {
            return pending.Task.WaitAsync(cancellationToken);
        }

        try
        {
            return Task.FromResult(_answer());
        }
        catch (SocketException e)
        {
            return Task.FromException<IPAddress[]>(e);
        }
    }
}
