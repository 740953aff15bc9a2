namespace Sluice.Server.Diagnostics;

/// <summary>The server's one table of log event ids (100-999; Core uses 1000-1999). Ids are never reused; add new ones at the end of a range.</summary>
internal static class LogEvents
{
    // 1xx: start and stop
    public const int Unauthenticated = 100;
    public const int Listening = 101;
    public const int ShuttingDown = 102;
    public const int ShutdownComplete = 103;
    public const int ShutdownStepFailed = 104;
    public const int OpenFailed = 105;
    public const int StartFailed = 106;
    public const int ListeningOnKafka = 107;
    public const int RuntimeSettings = 108;
    public const int ListenerScheduling = 109;

    // 2xx: produce and topics
    public const int TopicAutoCreated = 200;
    public const int AsyncProduceFailed = 201;

    // 250-299: metrics, traces and the web console
    public const int OtlpEnabled = 250;
    public const int MetricsSampleFailed = 251;

    // 300-349: gRPC and Kafka-Pixy compatibility
    public const int GrpcListening = 300;
    public const int PixyAsyncProduceFailed = 301;
    public const int PixyCallFailed = 302;
    public const int GrpcStreamFailed = 303;
    public const int GrpcAsyncProduceFailed = 304;

    // 4xx: streaming (SSE, WebSocket)
    public const int StreamRefused = 400;
    public const int SlowConsumerClosed = 401;
    public const int StreamFailed = 402;
    public const int StreamTakenOver = 403;

    // 450-499: several clusters
    public const int ClusterOpened = 450;
    public const int ClusterOpenFailed = 451;

    // 500-549: browsers, hosts and token keys (CORS, DNS rebinding, JWKS URL)
    public const int JwksFetched = 500;
    public const int JwksFetchFailed = 501;
    public const int JwksKeySkipped = 502;
    public const int CrossOriginRefused = 510;
    public const int HostRefused = 511;

    // 6xx: webhooks (the dispatcher itself logs from Core, 1100-1199)
    public const int WebhookReplyDropped = 600;
    public const int WebhookReplyFailed = 601;

    // 750-799: replicators (the engine itself logs from Core, 1300-1399)
    public const int SinkAssemblyFailed = 750;
    public const int SinkTypesFound = 751;
    public const int RolesConfigured = 752;

    // 8xx: authentication, authorisation, limits, TLS
    public const int AuthenticationFailed = 800;
    public const int AccessDenied = 801;
    public const int RouteWithoutAccessRule = 802;
    public const int RateLimited = 803;
    public const int QuotaReached = 804;
    public const int JwtEnabled = 805;
    public const int TlsEnabled = 806;

    // 9xx: errors
    public const int UnhandledException = 900;
}
