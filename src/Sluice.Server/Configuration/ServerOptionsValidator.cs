using Microsoft.Extensions.Options;

namespace Sluice.Server.Configuration;

/// <summary>Cross-field checks (single values are checked as they are parsed); run again by ValidateOnStart.</summary>
internal sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Check(ServerOptions o)
    {
        var errors = new List<string>();
        if (o.MaxBatchBytes < o.MaxMessageBytes)
        {
            errors.Add($"maxBatchBytes ({o.MaxBatchBytes}) must be at least maxMessageBytes ({o.MaxMessageBytes}): a batch must be able to hold one message of the largest size");
        }

        if (o.SegmentBytes < o.MaxMessageBytes)
        {
            errors.Add($"topics:segmentBytes ({o.SegmentBytes}) must be at least maxMessageBytes ({o.MaxMessageBytes})");
        }

        if (o.WebhookBreakerMaxCooldownMs < o.WebhookBreakerCooldownMs)
        {
            errors.Add($"webhooks:breakerMaxCooldownMs ({o.WebhookBreakerMaxCooldownMs}) must be at least webhooks:breakerCooldownMs ({o.WebhookBreakerCooldownMs})");
        }

        errors.AddRange(Security.SecurityServices.Check(o));
        errors.AddRange(Compat.Kateway.KatewayEndpoints.Check(o));

        if (o.IsGrpcPort(o.Port))
        {
            errors.Add($"grpc:port ({o.GrpcPort}) must differ from port; use 0 to turn the gRPC listener off");
        }

        if (o.IsPixyPort(o.Port) || o.IsPixyPort(o.GrpcPort))
        {
            errors.Add($"pixy:port ({o.PixyPort}) must differ from port and grpc:port; use 0 for the main port only");
        }

        if (o.IsKafka && o.KafkaMockBrokers == 0 && !(o.KafkaClusters.TryGetValue("default", out var cluster) && (cluster.Bootstrap.Length > 0 || cluster.MockBrokers > 0)))
        {
            errors.Add("backend kafka needs the default cluster's bootstrap servers (--kafka-bootstrap or kafka:clusters:default:bootstrap) or a mock cluster (--kafka-mock-brokers)");
        }

        foreach (var (name, other) in o.KafkaClusters)
        {
            if (o.IsKafka && name != "default" && o.KafkaMockBrokers == 0 && other.Bootstrap.Length == 0 && other.MockBrokers == 0)
            {
                errors.Add($"kafka:clusters:{name} needs bootstrap servers (kafka:clusters:{name}:bootstrap) or a mock cluster (kafka:clusters:{name}:mockBrokers)");
            }

            if (other.Bootstrap.Length > 0 && other.MockBrokers > 0)
            {
                errors.Add($"kafka:clusters:{name} has both bootstrap servers and mockBrokers; give one (mockBrokers hosts a mock cluster in this process)");
            }
        }

        if (!o.IsKafka && (o.KafkaMockBrokers > 0 || o.KafkaClusters.Count > 0))
        {
            errors.Add("Kafka settings are given but the backend is embedded; add --backend kafka");
        }

        if (!o.IsKafka && (!o.ServesHttp || !o.RunsWorkers))
        {
            errors.Add("roles other than http,workers need backend kafka: on the embedded log one instance must both serve the API and run replicators and webhooks");
        }

        // Whatever else the embedded log would refuse at open, refuse now with the others.
        foreach (var problem in Hosting.Backend.StorageOptionsFor(o).Validate())
        {
            errors.Add("storage: " + problem);
        }

        return errors;
    }
}
