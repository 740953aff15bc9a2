namespace Sluice.Server.Compat;

/// <summary>Header names as Go writes them: its ancestors (Pulsar Beam, Kafka-Pixy, kateway) are Go programs.</summary>
internal static class GoHeaders
{
    /// <summary>Go's <c>textproto.CanonicalMIMEHeaderKey</c>: upper case first and after each '-', lower case elsewhere.</summary>
    public static string Canonical(string name)
    {
        var chars = name.ToCharArray();
        var upper = true;
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = upper ? char.ToUpperInvariant(chars[i]) : char.ToLowerInvariant(chars[i]);
            upper = chars[i] == '-';
        }

        return new string(chars);
    }
}
