using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Samples.Readme;
using TuplePool.Tests.Http;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Docs;

/// <summary>
/// Every C# block of README.md is compiled in samples/TuplePool.Samples.Readme (between
/// <c>// &lt;readme name="…"&gt;</c> markers) and run here against loopback servers, so a README
/// example that stops compiling or working fails the suite.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    // JsonSerializerOptions.Web is .NET 9+; the suite also runs on .NET 8 (.ci/run).
    private static readonly JsonSerializerOptions WebJson = new(JsonSerializerDefaults.Web);

    [Fact]
    public void Readme_EveryCSharpBlock_IsASnippetThatCompiles()
    {
        var snippets = ReadSnippets();
        var blocks = CSharpBlocks().Matches(File.ReadAllText(Path.Combine(Repository.Root, "README.md")))
            .Select(m => m.Groups["code"].Value)
            .ToList();

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var lines = Normalize(block);
            var usings = lines.TakeWhile(l => l.StartsWith("using ", StringComparison.Ordinal) || l.Length == 0).ToList();
            var body = lines.Skip(usings.Count).ToList();
            var match = snippets.FirstOrDefault(s => s.Body.SequenceEqual(body));
            Assert.True(match is not null, "This README block is not a snippet of samples/TuplePool.Samples.Readme (copy it there between // <readme> markers, or fix the README):\n" + block);
            foreach (var directive in usings.Where(u => u.Length > 0))
            {
                Assert.Contains(directive, match.FileUsings);
            }
        }

        // And no snippet is orphaned: each one appears in the README.
        var names = snippets.Where(s => !blocks.Any(b => Normalize(b).SkipWhile(l => l.StartsWith("using ", StringComparison.Ordinal) || l.Length == 0).SequenceEqual(s.Body)));
        Assert.Empty(names.Select(s => s.Name));
    }

    [Fact]
    public async Task HelloPool_LeasesFromAConfiguredSource()
    {
        await using var server = new LoopbackServer(echo: true);

        var source = await HelloPool.RunAsync(server.EndPoint.Port);

        Assert.Contains(source, new[] { "127.0.0.2", "127.0.0.3" });
    }

    [Fact]
    public async Task Refusals_TheCauseAndTheHint_AndARequestReportedAsReceived()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Integration.Take(1), AcquireTimeout = TimeSpan.FromMilliseconds(200) });
        using var held = await pool.AcquireAsync(server.EndPoint, token);
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));

        var said = await Refusals.ReadCauseAsync(pool, server.EndPoint, token);
        await Assert.ThrowsAsync<HttpRequestException>(() => Refusals.GetAsync(client, new Uri(server.BaseAddress, "/whoami"), token));

        Assert.Equal("ActiveConnections, retry after a close", said);
        Assert.Equal((2L, 0L), (pool.GetSnapshot().RefusedAcquires, pool.GetSnapshot().BackgroundRefusals)); // the request's refusal reported as received
    }

    [Fact]
    public async Task RawPool_ReturnsTheSocket_AndTheSnapshotSerialisesWithAddressesAsStrings()
    {
        await using var server = new LoopbackServer(echo: true);

        var snapshot = await RawPool.RunAsync(server.EndPoint.Port, "hello"u8.ToArray(), TestContext.Current.CancellationToken);

        var tuple = Assert.Single(snapshot.Tuples, t => t.Idle == 1);
        Assert.Equal(1, tuple.Idle);
        var json = JsonSerializer.Serialize(snapshot, WebJson);
        Assert.Contains($"\"source\":\"{tuple.Source}\"", json, StringComparison.Ordinal);
        Assert.Contains($"\"destination\":\"127.0.0.1:{server.EndPoint.Port}\"", json, StringComparison.Ordinal);
        Assert.Contains("\"idle\":1", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DependencyInjection_PingAndReplica_AnswerOverHttp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var backend = new LoopbackServer();
        var appPort = FreeListeningPort();
        await using var app = DependencyInjection.Build(appPort, backend.EndPoint.Port);
        await app.StartAsync(ct);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };

        var local = IPEndPoint.Parse(await client.GetStringAsync("/ping", ct));
        using var replica = await client.GetAsync("/replica", ct);

        Assert.Contains(local.Address.ToString(), new[] { "127.0.0.2", "127.0.0.3" });
        Assert.InRange(local.Port, 40000, 44999);
        Assert.Equal(HttpStatusCode.OK, replica.StatusCode);
        var body = await replica.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(JsonValueKind.Array, body.GetProperty("tuples").ValueKind);
        await app.StopAsync(ct);
    }

    [Fact]
    public async Task HttpClient_WithoutDependencyInjection_ConnectsThroughThePool()
    {
        await using var server = await TestHttpServer.StartAsync(TestContext.Current.CancellationToken);

        var answer = await HttpClientExamples.WithoutDependencyInjectionAsync(new Uri(server.BaseAddress, "/whoami"));

        Assert.Contains(IPAddress.Parse(answer), new[] { IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3") });
    }

    [Fact]
    public async Task HttpClient_WithFactory_KeepsThePoolAndTheHandlerSettings()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(ct);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.4",
        }).Build();
        await using var services = HttpClientExamples.WithFactory(configuration, server.BaseAddress);

        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("backend");
        var answer = await client.GetStringAsync("/whoami", ct);

        Assert.Equal("127.0.0.4", IPAddress.Parse(answer).ToString());
    }

    private static int FreeListeningPort()
    {
        using var probe = ListenerPorts.BindListener(IPAddress.Loopback);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static List<string> Normalize(string code)
    {
        var lines = code.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[0].Length == 0)
        {
            lines.RemoveAt(0);
        }

        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()).ToList();
    }

    private static List<Snippet> ReadSnippets()
    {
        var result = new List<Snippet>();
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "samples", "TuplePool.Samples.Readme"), "*.cs"))
        {
            var text = File.ReadAllText(file);
            var usings = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("using ", StringComparison.Ordinal)).ToList();
            foreach (Match m in SnippetRegions().Matches(text))
            {
                result.Add(new Snippet(m.Groups["name"].Value, Normalize(m.Groups["code"].Value), usings));
            }
        }

        Assert.NotEmpty(result);
        return result;
    }

    [GeneratedRegex("```csharp\\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlocks();

    [GeneratedRegex("// <readme name=\"(?<name>[^\"]+)\">\\n(?<code>.*?)\\n[ \\t]*// </readme>", RegexOptions.Singleline)]
    private static partial Regex SnippetRegions();

    private sealed record Snippet(string Name, List<string> Body, List<string> FileUsings);
}
