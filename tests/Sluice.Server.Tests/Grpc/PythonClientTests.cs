using System.Diagnostics;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Pixy;

namespace Sluice.Server.Tests.Grpc;

/// <summary>
/// Both gRPC services driven from Python (Debian's python3-grpcio) through stubs generated at test time from the
/// repository's protos by Debian's protoc and grpc_python_plugin (protobuf-compiler-grpc): a real client in another
/// language, proving the protos are what clients generate from. scripts/test installs those packages.
/// </summary>
public sealed class PythonClientTests(PixyServer server, ITestOutputHelper output) : IClassFixture<PixyServer>, IDisposable
{
    // Debian's interpreter, the one python3-grpcio installs into (a python3 earlier on PATH may be another).
    private const string Python = "/usr/bin/python3";

    public void Dispose() => server.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task PythonStubsFromTheProtos_ProduceConsumeAndAck_OnBothServices()
    {
        var stubs = Directory.CreateTempSubdirectory("sluice-pystubs-");
        try
        {
            var protos = Path.Combine(RepositoryRoot(), "protos");
            await RunAsync("protoc", ["-I", protos, "--python_out", stubs.FullName, "--grpc_out", stubs.FullName,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", Path.Combine(protos, "kafkapixy.proto"), Path.Combine(protos, "sluice", "v1", "sluice.proto")]);
            var script = Path.Combine(AppContext.BaseDirectory, "Grpc", "python", "grpc_client.py");
            var json = await RunAsync(Python, [script, $"127.0.0.1:{server.Server.GrpcPort}", stubs.FullName]);

            var seen = JsonDocument.Parse(json).RootElement;
            Assert.Equal(["NOT_FOUND", "long polling timeout"], seen.GetProperty("first_consume").EnumerateArray().Select(e => e.GetString()));
            var partition = PixyServer.PixyPartition("key-1", 4);
            Assert.Equal([partition, 0], seen.GetProperty("produce").EnumerateArray().Select(e => e.GetInt64()));
            var consumed = seen.GetProperty("consumed");
            Assert.Equal("hello", consumed.GetProperty("message").GetString());
            Assert.Equal("key-1", consumed.GetProperty("key").GetString());
            Assert.False(consumed.GetProperty("key_undefined").GetBoolean());
            Assert.Equal("[[\"h\",\"v\"]]", consumed.GetProperty("headers").GetRawText());
            Assert.Equal($"[[{partition},1,0]]", seen.GetProperty("offsets").GetRawText());
            Assert.Equal(["INVALID_ARGUMENT", "proxy `elsewhere` does not exist"], seen.GetProperty("bad_cluster").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(["v0", "v1"], seen.GetProperty("stream").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(2, seen.GetProperty("stream_acked").GetInt32());
        }
        finally
        {
            stubs.Delete(recursive: true);
        }
    }

    private async Task<string> RunAsync(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within 3 minutes");
        }

        var err = await stderr;
        if (err.Length > 0)
        {
            output.WriteLine($"{file} stderr: {err}");
        }

        Assert.True(process.ExitCode == 0, $"{file} exited with {process.ExitCode}: {err}");
        return await stdout;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"cannot find Sluice.slnx above {AppContext.BaseDirectory}");
    }
}
