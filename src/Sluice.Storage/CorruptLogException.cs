namespace Sluice.Storage;

/// <summary>
/// Stored data failed its checksum or does not parse. The damaged records are never returned;
/// the file and position are logged and named in the message.
/// </summary>
public sealed class CorruptLogException(string file, long position, string reason)
    : IOException($"corrupt record batch in '{file}' at byte {position}: {reason}")
{
    public string File { get; } = file;

    public long Position { get; } = position;
}
