using Microsoft.Extensions.Configuration;

namespace Sluice.Server.Configuration;

/// <summary>Reads a YAML file into configuration keys (see <see cref="YamlConfigurationProvider"/>).</summary>
internal sealed class YamlConfigurationSource : FileConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new YamlConfigurationProvider(this);
    }
}
