using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using NuGet.Versioning;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Packaging;

/// <summary>
/// The version scheme of Directory.Build.props (target <c>TuplePoolVersionFromGit</c>, described in
/// .ci/README.md), read from the repository's own projects with <c>dotnet msbuild</c> in child
/// processes: one child process is one build. A local build's packages get a version of their own,
/// so NuGet never takes an earlier build's package of the same version from its cache; CI builds
/// stay deterministic; a release stays plain.
/// </summary>
public sealed partial class VersionSchemeTests
{
    private static readonly string TuplePoolProject = Path.Combine(Repository.Root, "src", "TuplePool", "TuplePool.csproj");
    private static readonly string HttpProject = Path.Combine(Repository.Root, "src", "TuplePool.Http", "TuplePool.Http.csproj");
    private static readonly string DoctorProject = Path.Combine(Repository.Root, "src", "TuplePool.Doctor", "TuplePool.Doctor.csproj");

    [Fact]
    public async Task LocalBuilds_EachPackageVersionIsNew_TheLaterSortsHigher_AssemblyVersionStays()
    {
        var first = await VersionsAsync(ci: false);
        var second = await VersionsAsync(ci: false);

        Assert.Matches(LocalPackageVersion(), first.Package);
        Assert.Matches(LocalPackageVersion(), second.Package);
        Assert.NotEqual(first.Package, second.Package);
        Assert.True(NuGetVersion.Parse(second.Package) > NuGetVersion.Parse(first.Package), $"NuGet sorts {second.Package} below {first.Package}");

        // The assemblies keep the commit's version, so an unchanged project is not recompiled.
        Assert.Equal(first.Assembly, second.Assembly);
        Assert.StartsWith(first.Assembly + ".local.", first.Package, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalBuild_SortsAboveItsCommitsCiBuild_AndBelowTheNextCommits()
    {
        var builds = await Task.WhenAll(VersionsAsync(ci: false), VersionsAsync(ci: true));
        var local = NuGetVersion.Parse(builds[0].Package);
        var ci = builds[1].Package;

        Assert.True(local > NuGetVersion.Parse(ci), $"{local} sorts below {ci}");
        var commits = CiPackageVersion().Match(ci).Groups["commits"];
        Assert.SkipUnless(commits.Success, $"{ci}: not a git work tree with its history, so no next commit to sort below");
        var next = ci.Replace($"ci.{commits.Value}", $"ci.{int.Parse(commits.Value, System.Globalization.CultureInfo.InvariantCulture) + 1}", StringComparison.Ordinal);
        Assert.True(local < NuGetVersion.Parse(next), $"{local} sorts above the next commit's {next}");
    }

    [Fact]
    public async Task CiBuilds_SameVersionEveryTime_WithoutAStamp()
    {
        var builds = await Task.WhenAll(VersionsAsync(ci: true), VersionsAsync(ci: true));
        var (first, second) = (builds[0], builds[1]);

        Assert.Matches(CiPackageVersion(), first.Package);
        Assert.Equal(first, second);
        Assert.Equal(first.Assembly, first.Package);
    }

    [Fact]
    public async Task PublicRelease_LocalBuild_PlainVersionPrefix()
    {
        var versions = await VersionsAsync(ci: false, "-p:PublicRelease=true");

        Assert.Equal(versions.Prefix, versions.Package);
        Assert.Equal(versions.Prefix, versions.Assembly);
        Assert.Matches(@"^\d+\.\d+\.\d+$", versions.Package);
    }

    [Fact]
    public async Task LocalBuild_EveryProjectOfOneBuild_SharesOneStamp()
    {
        // One build asks for the package versions the way pack does: each project for itself
        // (per target framework, per configuration) and, for TuplePool.Http's dependency, the
        // referenced project with BuildProjectReferences=false. Each of those is another set of
        // global properties, so another project instance that runs the version target again.
        var traversal = Path.Combine(Path.GetTempPath(), $"tuplepool-versions-{Environment.ProcessId}-{Guid.NewGuid():N}.proj");
        await File.WriteAllTextAsync(traversal, $"""
            <Project>
              <Target Name="Versions" Returns="@(V)" KeepDuplicateOutputs="true">
                <MSBuild Projects="{TuplePoolProject}" Targets="_GetProjectVersion" Properties="Configuration=Release;TargetFramework=net10.0"><Output TaskParameter="TargetOutputs" ItemName="V" /></MSBuild>
                <MSBuild Projects="{HttpProject}" Targets="_GetProjectVersion" Properties="Configuration=Release"><Output TaskParameter="TargetOutputs" ItemName="V" /></MSBuild>
                <MSBuild Projects="{TuplePoolProject}" Targets="_GetProjectVersion" Properties="Configuration=Release;BuildProjectReferences=false"><Output TaskParameter="TargetOutputs" ItemName="V" /></MSBuild>
                <MSBuild Projects="{DoctorProject}" Targets="_GetProjectVersion" Properties="Configuration=Debug"><Output TaskParameter="TargetOutputs" ItemName="V" /></MSBuild>
              </Target>
            </Project>
            """, TestContext.Current.CancellationToken);
        try
        {
            using var result = JsonDocument.Parse(await MSBuildAsync(ci: false, traversal, "-t:Versions", "-getTargetResult:Versions"));

            var versions = result.RootElement.GetProperty("TargetResults").GetProperty("Versions").GetProperty("Items").EnumerateArray()
                .Select(i => i.GetProperty("ProjectVersion").GetString()!)
                .ToList();

            Assert.Equal(4, versions.Count);
            Assert.Matches(LocalPackageVersion(), versions[0]);
            Assert.All(versions, v => Assert.Equal(versions[0], v));
        }
        finally
        {
            File.Delete(traversal);
        }
    }

    private static async Task<Versions> VersionsAsync(bool ci, params string[] properties)
    {
        using var result = JsonDocument.Parse(await MSBuildAsync(ci, TuplePoolProject, ["-t:TuplePoolVersionFromGit", "-getProperty:PackageVersion", "-getProperty:Version", "-getProperty:VersionPrefix", .. properties]));
        var values = result.RootElement.GetProperty("Properties");
        return new Versions(values.GetProperty("VersionPrefix").GetString()!, values.GetProperty("Version").GetString()!, values.GetProperty("PackageVersion").GetString()!);
    }

    /// <summary>
    /// One build: <c>dotnet msbuild</c> in the repository, as CI runs it (<c>CI=true</c>) or as a
    /// developer does (no <c>CI</c>); its standard output. No node reuse, so no build server outlives it.
    /// </summary>
    private static async Task<string> MSBuildAsync(bool ci, string project, params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["msbuild", project, "-nologo", "-nodeReuse:false", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        // The test host may run under `dotnet test` (MSBuild's variables set) and under CI=true.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k is "CI" or "ContinuousIntegrationBuild").ToList())
        {
            start.Environment.Remove(name);
        }

        if (ci)
        {
            start.Environment["CI"] = "true";
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(process.ExitCode == 0, $"dotnet msbuild {project} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await output}\n{await error}");
        return await output;
    }

    private static string DotnetHost()
        => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private readonly record struct Versions(string Prefix, string Assembly, string Package);

    // 0.2.0-ci.142 in a git work tree, 0.2.0-dev without one.
    [GeneratedRegex(@"^\d+\.\d+\.\d+-(ci\.(?<commits>\d+)|dev)$")]
    private static partial Regex CiPackageVersion();

    // The same, then .local.<UTC yyyyMMdd-HHmmss-fff>.
    [GeneratedRegex(@"^\d+\.\d+\.\d+-(ci\.\d+|dev)\.local\.20\d{6}-\d{6}-\d{3}$")]
    private static partial Regex LocalPackageVersion();
}
