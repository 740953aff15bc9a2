namespace Sluice.Sinks.Nats;

/// <summary>NATS subject rules: '.'-separated tokens, <c>*</c> one token and <c>&gt;</c> the rest in filters.</summary>
internal static class NatsSubjects
{
    /// <summary>Why a subject cannot be published to, or null.</summary>
    public static string? PublishProblem(string subject)
    {
        if (subject.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "must not contain whitespace";
        }

        foreach (var token in subject.Split('.'))
        {
            if (token.Length == 0)
            {
                return "must not have an empty token (a leading, trailing or doubled '.')";
            }

            if (token is "*" or ">")
            {
                return "must not contain the wildcards '*' or '>' (messages are published to one subject)";
            }
        }

        return null;
    }

    /// <summary>True when the stream subject filter <paramref name="filter"/> captures <paramref name="subject"/>.</summary>
    public static bool Covers(string filter, string subject)
    {
        var f = filter.Split('.');
        var s = subject.Split('.');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == ">")
            {
                return s.Length > i;
            }

            if (i >= s.Length || (f[i] != "*" && !string.Equals(f[i], s[i], StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return f.Length == s.Length;
    }
}
