namespace Sluice.Storage.Tests;

// Shared with the server's fault suite (linked into Sluice.Server.Tests): no dependency beyond the base library.

/// <summary>
/// A real, small tmpfs mounted for one test (the tests run as root: CI and this machine do), so a full disk is a real
/// ENOSPC. When it cannot be mounted the test fails, saying why; it is never skipped.
/// </summary>
internal sealed class TmpfsMount : IDisposable
{
    public TmpfsMount(long bytes)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sluice-tmpfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", Path);
        if (code != 0)
        {
            Directory.Delete(Path);
            throw new InvalidOperationException(
                $"cannot mount a {bytes}-byte tmpfs at {Path} for the full-disk test (exit {code}: {output.Trim()}); it needs root (CAP_SYS_ADMIN)");
        }
    }

    public string Path { get; }

    /// <summary>Bytes the file system still has free.</summary>
    public long Free => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Writes a file that takes all but <paramref name="leave"/> bytes of the free space.</summary>
    public string Fill(long leave, string name = "filler")
    {
        var file = System.IO.Path.Combine(Path, name);
        using var stream = new FileStream(file, FileMode.Create, FileAccess.Write);
        var chunk = new byte[64 * 1024];
        try
        {
            while (Free > leave)
            {
                stream.Write(chunk, 0, (int)Math.Min(chunk.Length, Free - leave));
                stream.Flush();
            }
        }
        catch (IOException)
        {
            // Full already: the rest of the chunk did not fit.
        }

        return file;
    }

    public void Dispose()
    {
        var (code, output) = Run("umount", "-l", Path);
        if (code == 0)
        {
            Directory.Delete(Path);
        }
        else
        {
            throw new InvalidOperationException($"cannot unmount {Path}: {output}");
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        try
        {
            using var process = System.Diagnostics.Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }
}

/// <summary>
/// Where each batch of a segment file is, read from the frozen batch format (base offset at byte 0, length at byte 8,
/// last offset delta at byte 18): what a test needs to damage a chosen batch and to know which records it damaged.
/// </summary>
internal sealed record BatchSpan(long Position, int Size, long FirstOffset, long LastOffset)
{
    public long End => Position + Size;

    public static List<BatchSpan> Read(string segmentFile)
    {
        var bytes = File.ReadAllBytes(segmentFile);
        var spans = new List<BatchSpan>();
        var position = 0;
        while (position + 42 <= bytes.Length)
        {
            if (!bytes.AsSpan(position).ContainsAnyExcept((byte)0))
            {
                break; // the zeros an active segment reserves ahead of its data under the Always flush policy
            }

            var baseOffset = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position));
            var size = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(position + 8)) + 12;
            var lastDelta = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(position + 18));
            if (size < 42 || position + size > bytes.Length)
            {
                throw new InvalidOperationException($"{segmentFile} is not intact at byte {position}");
            }

            spans.Add(new BatchSpan(position, size, baseOffset, baseOffset + lastDelta));
            position += size;
        }

        return spans;
    }
}

/// <summary>Damage done to a file the way a bad disk or an interrupted write would: a byte flipped, the end cut off.</summary>
internal static class FileDamage
{
    public static void Flip(string file, long position, byte mask = 0xFF)
    {
        using var f = new FileStream(file, FileMode.Open);
        f.Position = position;
        var b = f.ReadByte();
        f.Position = position;
        f.WriteByte((byte)(b ^ mask));
    }

    public static void Cut(string file, long length)
    {
        using var f = new FileStream(file, FileMode.Open);
        f.SetLength(length);
    }
}
