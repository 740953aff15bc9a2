using System.CommandLine;
using System.Text.Json;
using Sluice.Cli.Output;

namespace Sluice.Cli.Admin;

/// <summary>What admin commands share: <c>--json</c> (the server's answer as it is, for scripts) and reading JSON fields.</summary>
internal static class AdminOutput
{
    public static Option<bool> JsonOption() => new("--json") { Description = "Print the server's JSON answer as it is" };

    public static void Pretty(CliContext context, JsonDocument? answer)
    {
        if (answer is not null)
        {
            context.Out.WriteLine(JsonOutput.Pretty(answer.RootElement));
        }
    }

    public static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        } : null;

    /// <summary>Reads a JSON file given with <c>--file</c> (or <c>-</c> for stdin) as a request body, checking it parses.</summary>
    public static byte[] ReadJsonFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = path == "-" ? ReadStdin() : File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"cannot read {path}: {ex.Message}");
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("the top level is not an object");
            }
        }
        catch (JsonException ex)
        {
            throw CliException.Usage($"{path} is not a JSON object: {ex.Message}");
        }

        return bytes;
    }

    private static byte[] ReadStdin()
    {
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        return buffer.ToArray();
    }
}
