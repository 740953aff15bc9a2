using System.Reflection;
using Sluice.Core.Replication;

namespace Sluice.Server.Replication;

/// <summary>
/// Finds the sink types shipped with the server: every <c>Sluice.Sinks.*.dll</c> beside it (a sink project referenced by
/// the server is copied there) and the <see cref="ReplicationSinkAttribute"/>s it carries. A new sink is a new project
/// (and its reference); no code here or in the composition root changes.
/// </summary>
internal static class SinkDiscovery
{
    public sealed record Result(IReadOnlyList<ReplicationSinkType> Types, IReadOnlyList<string> Problems);

    public static Result Discover(string directory)
    {
        var types = new List<ReplicationSinkType>();
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory, "Sluice.Sinks.*.dll").Order(StringComparer.Ordinal))
        {
            try
            {
                var assembly = Assembly.Load(AssemblyName.GetAssemblyName(file));
                foreach (var attribute in assembly.GetCustomAttributes<ReplicationSinkAttribute>())
                {
                    if (!typeof(ReplicationSinkType).IsAssignableFrom(attribute.SinkType) || Activator.CreateInstance(attribute.SinkType) is not ReplicationSinkType type)
                    {
                        problems.Add($"{Path.GetFileName(file)}: {attribute.SinkType.FullName} is not a ReplicationSinkType with a public parameterless constructor");
                        continue;
                    }

                    if (types.Any(t => t.Name == type.Name))
                    {
                        problems.Add($"{Path.GetFileName(file)}: sink type '{type.Name}' is provided twice; the first one found is used");
                        continue;
                    }

                    types.Add(type);
                }
            }
            catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or FileNotFoundException or TypeLoadException or MissingMethodException or TargetInvocationException)
            {
                problems.Add($"{Path.GetFileName(file)}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        return new Result(types, problems);
    }
}
