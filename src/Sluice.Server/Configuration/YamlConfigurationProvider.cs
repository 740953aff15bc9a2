using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Server.Configuration;

/// <summary>
/// Flattens a YAML document into configuration keys the way the JSON provider does:
/// <c>flush: { policy: always }</c> becomes <c>flush:policy = always</c>, sequence items become
/// <c>key:0</c>, <c>key:1</c>. Scalars keep their text; <c>~</c>, <c>null</c> and empty become null.
/// </summary>
internal sealed class YamlConfigurationProvider(YamlConfigurationSource source) : FileConfigurationProvider(source)
{
    public override void Load(Stream stream)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(stream);
            yaml.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new FormatException($"the YAML configuration file is malformed at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex);
        }

        if (yaml.Documents.Count > 0)
        {
            Visit(yaml.Documents[0].RootNode, prefix: null, data);
        }

        Data = data;
    }

    private static void Visit(YamlNode node, string? prefix, Dictionary<string, string?> data)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (keyNode, child) in mapping.Children)
                {
                    var key = ((YamlScalarNode)keyNode).Value ?? "";
                    Visit(child, prefix is null ? key : ConfigurationPath.Combine(prefix, key), data);
                }

                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    Visit(sequence.Children[i], ConfigurationPath.Combine(prefix ?? "", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), data);
                }

                break;
            case YamlScalarNode scalar when prefix is not null:
                var isNull = scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
                data[prefix] = isNull ? null : scalar.Value;
                break;
        }
    }
}
