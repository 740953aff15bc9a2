using System.Text;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>A name with <c>{tenant}</c>, <c>{namespace}</c> and <c>{topic}</c> placeholders, filled in per source topic.</summary>
public sealed class TargetTemplate
{
    private static readonly string[] Placeholders = ["{tenant}", "{namespace}", "{topic}"];

    private TargetTemplate(string text) => Text = text;

    public string Text { get; }

    /// <summary>True when the name differs per topic (a namespace source can then write each topic somewhere else).</summary>
    public bool PerTopic => Text.Contains("{topic}", StringComparison.Ordinal);

    /// <summary>Parses a template; a reason in <paramref name="error"/> when it has an unknown placeholder.</summary>
    public static TargetTemplate? TryParse(string text, out string? error)
    {
        error = null;
        var i = 0;
        while ((i = text.IndexOf('{', i)) >= 0)
        {
            var known = Placeholders.FirstOrDefault(p => string.CompareOrdinal(text, i, p, 0, p.Length) == 0);
            if (known is null)
            {
                var end = text.IndexOf('}', i);
                var what = end > i ? text[i..(end + 1)] : text[i..];
                error = $"has an unknown placeholder '{(what.Length > 40 ? what[..40] + "..." : what)}'; use {{tenant}}, {{namespace}} and {{topic}}";
                return null;
            }

            i += known.Length;
        }

        return new TargetTemplate(text);
    }

    public string Apply(TopicName topic)
    {
        var sb = new StringBuilder(Text);
        sb.Replace("{tenant}", topic.Tenant).Replace("{namespace}", topic.Namespace).Replace("{topic}", topic.Name);
        return sb.ToString();
    }

    public override string ToString() => Text;
}
