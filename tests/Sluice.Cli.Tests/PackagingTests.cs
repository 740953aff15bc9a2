using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sluice.Cli.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Cli.Tests;

/// <summary>
/// What a user installs: the output of scripts/publish (the tarball and its single-file `sluice`) started on a clean
/// directory serves the README's tour; and the README's first command keeps its data where it is started.
/// </summary>
public sealed class PackagingTests(PackagingTests.Published published, ITestOutputHelper output) : IClassFixture<PackagingTests.Published>
{
    /// <summary>
    /// Runs scripts/publish once for linux-x64, framework-dependent (the runtime packs a self-contained build restores
    /// are ~100 MB: scripts/publish makes self-contained files by default; this checks the same script and packaging).
    /// </summary>
    public sealed class Published : IAsyncLifetime
    {
        public string Directory { get; } = Path.Combine(Path.GetTempPath(), "sluice-publish-" + Guid.NewGuid().ToString("N"));

        public TimeSpan Took { get; private set; }

        public string Log { get; private set; } = "";

        public async Task InitializeAsync()
        {
            var stopwatch = Stopwatch.StartNew();
            var (code, log) = await Run("bash", Repository.Root, Path.Combine(Repository.Root, "scripts", "publish"), "--rid", "linux-x64", "--no-aot", "--framework-dependent", "--output", Directory);
            Took = stopwatch.Elapsed;
            Log = log;
            if (code != 0)
            {
                throw new InvalidOperationException($"scripts/publish exited {code}:\n{log}");
            }
        }

        public Task DisposeAsync()
        {
            System.IO.Directory.Delete(Directory, recursive: true);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Tarball_HasTheBinaryConfigAndUnit_AndItsSluiceServesTheReadmeTourOnACleanDirectory()
    {
        output.WriteLine($"scripts/publish took {published.Took.TotalSeconds:0.0} s\n{published.Log}");
        var clean = Path.Combine(Path.GetTempPath(), "sluice-clean-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(clean);
        try
        {
            var tarball = Path.Combine(published.Directory, "sluice-0.1.0-linux-x64.tar.gz");
            Assert.True(File.Exists(tarball), $"no {tarball}:\n{published.Log}");
            Assert.Equal(0, (await Run("tar", clean, "-xzf", tarball)).ExitCode);
            var root = Path.Combine(clean, "sluice-0.1.0-linux-x64");
            Assert.Equal(["INSTALL.md", "sluice", "sluice.service", "sluice.yaml"], System.IO.Directory.GetFiles(root).Select(Path.GetFileName).Order());
            Assert.True(OperatingSystem.IsLinux() && File.GetUnixFileMode(Path.Combine(root, "sluice")).HasFlag(UnixFileMode.UserExecute));
            Assert.Contains("ExecStart=/usr/local/bin/sluice serve --config /etc/sluice/sluice.yaml", await File.ReadAllTextAsync(Path.Combine(root, "sluice.service")), StringComparison.Ordinal);

            // The default config as shipped, with the port and data directory of this test (flags win over the file).
            var port = FreePort();
            using var server = Launch(Path.Combine(root, "sluice"), root, "serve", "--config", "sluice.yaml", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", "data",
                "--grpc-port", "0"); // the default gRPC port may be taken on a shared machine
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitReadyAsync(http, server);
            await TourAsync(http);

            // The same file is the client.
            using var cli = new CliRunner($"127.0.0.1:{port}", Path.Combine(root, "sluice"));
            var consumed = await cli.RunAsync("consume", "acme/shop/orders", "-o", "raw");
            Assert.True(consumed.ExitCode == 0, consumed.ToString());
            string[] values = ["{\"total\": 42}", "one", "\u0000\u0001\u0002", "x", "y"];
            Assert.Equal(values.Order(StringComparer.Ordinal), consumed.Lines.Order(StringComparer.Ordinal));

            Assert.Equal(0, await StopAsync(server));
            Assert.Equal(["INSTALL.md", "data", "sluice", "sluice.service", "sluice.yaml"], System.IO.Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Order());
        }
        finally
        {
            System.IO.Directory.Delete(clean, recursive: true);
        }
    }

    [Fact]
    public async Task PublishedSingleFile_OnTheKafkaBackend_LoadsTheLibrdkafkaItCarries()
    {
        var clean = Path.Combine(Path.GetTempPath(), "sluice-kafka-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(clean);
        try
        {
            var port = FreePort();
            var binary = Path.Combine(published.Directory, "linux-x64", "sluice");
            using var server = LaunchWith(binary, clean, new() { ["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = Path.Combine(clean, "bundle") },
                "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--backend", "kafka", "--kafka-mock-brokers", "1");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitReadyAsync(http, server);
            Assert.Matches("librdkafka 2\\.[0-9]+\\.[0-9]+", server.Output);

            using var cli = new CliRunner($"127.0.0.1:{port}", binary);
            Assert.Equal(0, (await cli.RunAsync("produce", "acme/shop/orders", "on-kafka", "-p", "0")).ExitCode);
            var consumed = await cli.RunAsync("consume", "acme/shop/orders", "-o", "raw");
            Assert.True(consumed.ExitCode == 0, consumed.ToString());
            Assert.Equal(["on-kafka"], consumed.Lines);

            // The library came out of the file, into the extraction folder given.
            Assert.NotEmpty(System.IO.Directory.EnumerateFiles(Path.Combine(clean, "bundle"), "*librdkafka.so", SearchOption.AllDirectories));
        }
        finally
        {
            System.IO.Directory.Delete(clean, recursive: true);
        }
    }

    [Fact]
    public async Task DotnetRun_TheReadmesFirstCommand_WritesItsDataUnderTheDirectoryItIsStartedFrom()
    {
        var projectData = Path.Combine(Repository.Root, "src", "Sluice.Server", "data");
        var existedBefore = System.IO.Directory.Exists(projectData);
        var cwd = Path.Combine(Path.GetTempPath(), "sluice-run-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(cwd);
        try
        {
            var port = FreePort();
            var (configuration, _) = Repository.Build;
            using var server = Launch("dotnet", cwd, "run", "-c", configuration, "--no-build", "--project", Path.Combine(Repository.Root, "src", "Sluice.Server"),
                "--", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "0");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitReadyAsync(http, server);
            using (var produced = await http.PostAsync("/v1/topics/acme/shop/orders/messages", new StringContent("hello")))
            {
                Assert.Equal(HttpStatusCode.OK, produced.StatusCode);
            }

            Assert.True(System.IO.Directory.EnumerateFiles(Path.Combine(cwd, "data"), "*", SearchOption.AllDirectories).Any(), server.Output);
            Assert.Contains($"data in {Path.Combine(cwd, "data")}", server.Output, StringComparison.Ordinal);
            if (!existedBefore)
            {
                Assert.False(System.IO.Directory.Exists(projectData), "dotnet run wrote into src/Sluice.Server/data");
            }
        }
        finally
        {
            System.IO.Directory.Delete(cwd, recursive: true);
        }
    }

    [Fact]
    public async Task Server_WithTheClientsEnvironmentVariablesSet_StillStarts()
    {
        // The server refuses unknown SLUICE_* variables; the client's own (a shell set up for `sluice`) are not unknown.
        await using var server = new ServerProcess(environment: new() { ["SLUICE_SERVER"] = "127.0.0.1:1", ["SLUICE_TOKEN"] = "t", ["SLUICE_CLI_CONFIG"] = "/nowhere" });
        await server.StartAsync();
        using var ready = await server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    // The README's tour, request by request.
    private static async Task TourAsync(HttpClient http)
    {
        const string T = "/v1/topics/acme/shop/orders";
        using var produce = new HttpRequestMessage(HttpMethod.Post, $"{T}/messages?key=order-1") { Content = new StringContent("{\"total\": 42}", Encoding.UTF8, "application/json") };
        produce.Headers.Add("Sluice-Header-Trace", "abc123");
        var id = (await OkJson(await http.SendAsync(produce))).GetProperty("id").GetString();

        using (var created = await http.PutAsync($"{T}/subscriptions/billing", Json("{\"type\":\"shared\",\"position\":\"earliest\",\"ackDeadlineMs\":30000}")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var pull = new HttpRequestMessage(HttpMethod.Get, $"{T}/subscriptions/billing/messages?max=10&waitMs=10000");
        pull.Headers.Add("Sluice-Consumer-Id", "worker-1");
        var message = (await OkJson(await http.SendAsync(pull))).GetProperty("messages").EnumerateArray().Single();
        Assert.Equal(id, message.GetProperty("id").GetString());
        Assert.Equal("order-1", message.GetProperty("key").GetString());
        Assert.Equal("abc123", message.GetProperty("headers").GetProperty("Trace").GetString());

        var acked = await OkJson(await http.PostAsync($"{T}/subscriptions/billing/acks", Json($"{{\"ackIds\":[\"{message.GetProperty("ackId").GetString()}\"]}}")));
        Assert.Equal(1, acked.GetProperty("acked").GetInt32());

        var batch = await OkJson(await http.PostAsync($"{T}/batch", Json("{\"messages\":[{\"key\":\"a\",\"value\":\"one\"},{\"valueBase64\":\"AAEC\",\"headers\":{\"h\":\"v\"}}]}")));
        Assert.Equal(2, batch.GetProperty("results").GetArrayLength());
        var ndjson = new StringContent("{\"value\":\"x\"}\n{\"value\":\"y\"}\n", Encoding.UTF8);
        ndjson.Headers.ContentType = new("application/x-ndjson");
        Assert.Equal(2, (await OkJson(await http.PostAsync($"{T}/batch", ndjson))).GetProperty("results").GetArrayLength());

        Assert.Contains("acme/shop/orders", (await OkJson(await http.GetAsync("/v1/topics"))).GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(5, (await OkJson(await http.GetAsync(T))).GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("endOffset").GetInt64()));
        Assert.Equal(4, (await OkJson(await http.GetAsync($"{T}/subscriptions/billing"))).GetProperty("backlog").GetInt64());
        using (var seek = await http.PostAsync($"{T}/subscriptions/billing/seek", Json("{\"position\":\"earliest\"}")))
        {
            Assert.Equal(HttpStatusCode.NoContent, seek.StatusCode);
        }

        Assert.Contains("\"openapi\"", await http.GetStringAsync("/openapi/v1.json"), StringComparison.Ordinal);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> OkJson(HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {body}");
            return JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    private static async Task WaitReadyAsync(HttpClient http, Child server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            Assert.False(server.Process.HasExited, "the server exited:\n" + server.Output);
            try
            {
                using var ready = await http.GetAsync("/readyz");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, "not ready within 2 minutes:\n" + server.Output);
            await Task.Delay(200);
        }
    }

    private static async Task<int> StopAsync(Child child)
    {
        using (var kill = Process.Start("kill", ["-TERM", child.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await child.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return child.Process.ExitCode;
    }

    private static Child Launch(string file, string workingDirectory, params string[] args) => LaunchWith(file, workingDirectory, [], args);

    private static Child LaunchWith(string file, string workingDirectory, Dictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("SLUICE_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var child = new Child(new Process { StartInfo = info });
        child.Process.OutputDataReceived += (_, e) => child.Append(e.Data);
        child.Process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        child.Process.Start();
        child.Process.BeginOutputReadLine();
        child.Process.BeginErrorReadLine();
        return child;
    }

    private static async Task<(int ExitCode, string Output)> Run(string file, string workingDirectory, params string[] args)
    {
        using var child = Launch(file, workingDirectory, args);
        await child.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(15));
        child.Process.WaitForExit();
        return (child.Process.ExitCode, child.Output);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A child process with its output captured; killed with its children (dotnet run's app) when disposed.</summary>
    private sealed class Child(Process process) : IDisposable
    {
        private readonly StringBuilder _output = new();

        public Process Process { get; } = process;

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
            }

            Process.Dispose();
        }
    }
}
