using System.Diagnostics;
using System.Net;
using ChatPortal.Tests.Cluster;
using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Setup;

/// <summary>
/// The app as the container ships it. test.sh publishes it (the Dockerfile's restore and publish lines) before the suite,
/// which then starts it for every test that runs the portal as a process (CHATPORTAL_TEST_APP).
/// </summary>
public sealed class PublishedAppTests
{
    /// <summary>
    /// The Dockerfile's publish step, as test.sh runs it (artifacts/publish): the published app is self-contained
    /// (the container's base image has no .NET) with the framework and the app in one ReadyToRun composite image; it
    /// starts on its own the way the container's entry point starts it, creates its SQLite database, and its health
    /// probe passes.
    /// </summary>
    [Fact]
    public async Task The_published_app_starts_and_passes_its_container_health_probe()
    {
        var dir = Path.Combine(RepoPaths.Root, "artifacts", "publish");
        var exe = Path.Combine(dir, "ChatPortal");
        Assert.True(File.Exists(exe), $"{exe} is missing: ./test.sh publishes it first (the Dockerfile's publish line, -o artifacts/publish).");
        Assert.True(File.Exists(Path.Combine(dir, "libcoreclr.so")), "the publish is not self-contained: the runtime-deps base image has no .NET runtime");
        Assert.True(File.Exists(Path.Combine(dir, "ChatPortal.r2r.dll")), "the publish has no ReadyToRun composite image (ChatPortal.r2r.dll)");
        var data = TempDir.Create("pub");
        var port = PortalProcess.FreePort();
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["Urls"] = $"http://127.0.0.1:{port}";
        psi.Environment["Portal__DataPath"] = data;
        using var app = Process.Start(psi)!;
        app.OutputDataReceived += (_, _) => { };
        app.ErrorDataReceived += (_, _) => { };
        app.BeginOutputReadLine();
        app.BeginErrorReadLine();
        try
        {
            await Run.WaitForPortAsync(port, TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            HttpResponseMessage? res = null;
            for (var i = 0; i < 100 && res?.StatusCode != HttpStatusCode.OK; i++)
            {
                res?.Dispose();
                res = await http.GetAsync("/healthz");
                if (res.StatusCode != HttpStatusCode.OK) await Task.Delay(100);
            }
            Assert.Equal(HttpStatusCode.OK, res!.StatusCode);
            Assert.Contains("Sqlite", await res.Content.ReadAsStringAsync());
            res.Dispose();
            Assert.True(File.Exists(Path.Combine(data, "chatportal.db")));

            var probe = await Run.ToEndAsync(exe, ["healthcheck", $"http://127.0.0.1:{port}"]);
            Assert.Contains("200", probe);
        }
        finally
        {
            app.Kill(entireProcessTree: true);
            await app.WaitForExitAsync();
            TempDir.Delete(data);
        }
    }
}
