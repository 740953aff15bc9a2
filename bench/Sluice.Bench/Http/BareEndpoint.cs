using System.Buffers;
using Confluent.Kafka;

namespace Sluice.Bench.Http;

/// <summary>
/// The baseline: a bare Kestrel endpoint, run as a child process like the server, that reads the whole body of any
/// POST and answers 200 with no body. It does no parsing, no storage and no logging. Two more baselines are the same
/// endpoint with the least a durable answer needs:
/// <list type="bullet">
/// <item><c>--durable DIR writer|leader|inline</c>: each body is appended to one file, and the answer waits for its group
/// commit's sync (<see cref="GroupCommitFile"/>; who runs the commit and resumes the answers).</item>
/// <item><c>--kafka BOOTSTRAP TOPIC</c>: each body is produced as one record's value by a plain Confluent.Kafka producer
/// (<see cref="Kafka.KafkaSuite.PlainProducerConfig"/>, the Kafka suite's plain column's), and the answer waits for its
/// delivery report.</item>
/// </list>
/// </summary>
internal static class BareEndpoint
{
    public const string ChildFlag = "--child-http-bare";
    public const string ReadyPath = "/ready";

    private const string Usage = $"usage: {ChildFlag} PORT [--durable DIR writer|leader|inline | --kafka BOOTSTRAP TOPIC]";

    /// <summary>Child mode: <c>--child-http-bare PORT [--durable DIR writer|leader|inline | --kafka BOOTSTRAP TOPIC]</c> serves until killed.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        if (args.Length < 2 || !int.TryParse(args[1], System.Globalization.CultureInfo.InvariantCulture, out var port))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        Func<ReadOnlySequence<byte>, Task>? append;
        var inline = false;
        switch (args[2..])
        {
            case []:
                append = null;
                break;
            case ["--durable", var dir, var modeText] when Enum.TryParse<GroupCommitFile.CommitMode>(modeText, ignoreCase: true, out var mode):
                var file = new GroupCommitFile(Path.Combine(dir, "bare.log"), mode);
                inline = mode == GroupCommitFile.CommitMode.Inline;
                append = file.AppendAsync;
                break;
            case ["--kafka", var bootstrap, var topic]:
                Sluice.Kafka.KafkaNative.EnsureLoaded();
                // Never disposed: the child is killed when its run is over.
                var producer = new ProducerBuilder<byte[]?, byte[]?>(Kafka.KafkaSuite.PlainProducerConfig(bootstrap)).SetLogHandler((_, _) => { }).Build();
                append = body => producer.ProduceAsync(topic, new Message<byte[]?, byte[]?> { Value = body.ToArray() });
                break;
            default:
                await Console.Error.WriteLineAsync(Usage);
                return 2;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        if (inline)
        {
            // The answer resumed on the writer thread is also sent from it, not queued for another thread.
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        }

        var app = builder.Build();
        app.MapGet(ReadyPath, () => Results.Ok());
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            // Read the whole body, as the server must before it can append it: drop it as it comes, or keep it whole
            // and append it, answering once that is done.
            var reader = context.Request.BodyReader;
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                if (append is null)
                {
                    reader.AdvanceTo(read.Buffer.End);
                }
                else if (!read.IsCompleted)
                {
                    reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                }
                else
                {
                    var appended = append(read.Buffer);
                    reader.AdvanceTo(read.Buffer.End);
                    await appended;
                }

                if (read.IsCompleted)
                {
                    break;
                }
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
        });
        await app.RunAsync();
        return 0;
    }
}
