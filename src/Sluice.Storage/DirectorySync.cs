using System.Runtime.InteropServices;

namespace Sluice.Storage;

/// <summary>
/// fsync of a directory, so a created, renamed or deleted file name survives a crash (POSIX leaves
/// directory entries volatile until then). .NET has no API for it, hence the P/Invoke.
/// </summary>
internal static partial class DirectorySync
{
    private const int ORdOnly = 0;
    private const int ODirectory = 0x10000; // Linux value; other Unix systems only reach this path via OperatingSystem.IsLinux

    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // Windows has no directory fsync; NTFS journals metadata.
        }

        var fd = Open(directory, ORdOnly | ODirectory);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{directory}' to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
