using System.Text;

namespace Sluice.Storage.CrashWriter;

/// <summary>The value written for (run, sequence): self-describing, of varying length.</summary>
public static class CrashPayload
{
    public static byte[] For(int run, long sequence)
        => Encoding.UTF8.GetBytes($"run={run};seq={sequence};" + new string((char)('a' + (sequence % 26)), (int)(sequence % 200)));
}
