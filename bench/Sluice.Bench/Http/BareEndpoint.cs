namespace Sluice.Bench.Http;

/// <summary>
/// The baseline: a bare Kestrel endpoint, run as a child process like the server, that reads the whole body of any
/// POST and answers 200 with no body. It does no parsing, no storage and no logging.
/// </summary>
internal static class BareEndpoint
{
    public const string ChildFlag = "--child-http-bare";
    public const string ReadyPath = "/ready";

    /// <summary>Child mode: <c>--child-http-bare PORT</c> serves until killed.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        if (args is not [ChildFlag, var portText] || !int.TryParse(portText, out var port))
        {
            await Console.Error.WriteLineAsync($"usage: {ChildFlag} PORT");
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapGet(ReadyPath, () => Results.Ok());
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            // Read (and drop) the whole body, as the server must before it can append it.
            var reader = context.Request.BodyReader;
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                reader.AdvanceTo(read.Buffer.End);
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
