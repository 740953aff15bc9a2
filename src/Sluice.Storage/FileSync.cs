using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sluice.Storage;

/// <summary><c>fdatasync</c>, which .NET has no API for (<see cref="RandomAccess.FlushToDisk"/> is <c>fsync</c>).</summary>
internal static partial class FileSync
{
    /// <summary>Forces the file's data, and the metadata needed to read it back (its length), to disk. Linux only; returns 0 or -1 (errno set).</summary>
    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int DataSync(SafeFileHandle fd);
}
