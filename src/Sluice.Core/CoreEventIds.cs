namespace Sluice.Core;

/// <summary>
/// Every EventId logged by Sluice.Core, in one table so none is reused. Values only grow; a removed
/// event leaves a gap. Range 1000-1999 belongs to Core.
/// </summary>
internal static class CoreEventIds
{
    public const int StateLoaded = 1000;
    public const int StateTopicCreated = 1001;
    public const int CursorWriteFailed = 1002;
    public const int ReadAheadFailed = 1003;
    public const int TopicGone = 1004;
    public const int RetentionSkipped = 1005;
    public const int CursorBeyondEnd = 1006;
    public const int DeadLettered = 1007;
    public const int DeadLetterFailed = 1008;
    public const int ConsumerExpired = 1009;
    public const int SubscriptionCreated = 1010;
    public const int SubscriptionDeleted = 1011;
    public const int SubscriptionSeeked = 1012;
    public const int StateRecordIgnored = 1013;
    public const int TimerFailed = 1014;
    public const int FinalFlushFailed = 1015;

    // 1050-1099: fleet (several gateway instances on one backend)
    public const int PartitionsAssigned = 1050;
    public const int PartitionsRevoked = 1051;
    public const int LeaveFailed = 1052;
    public const int FollowFailed = 1053;
    public const int RemoteChangeIgnored = 1054;
    public const int ForwardedAckFailed = 1055;
    public const int RemoteUpdateRefused = 1056;

    // 1100-1199: webhooks
    public const int WebhooksLoaded = 1100;
    public const int WebhookStored = 1101;
    public const int WebhookDeleted = 1102;
    public const int WebhookPausedChanged = 1103;
    public const int WebhookReceiveFailed = 1104;
    public const int WebhookSettleFailed = 1105;
    public const int WebhookDeadLettered = 1106;

    // 1107 was an ack-failed event, gone with the ack loop: not reused.
    public const int WebhookTakeFailed = 1108;

    // 1200-1249: filters
    public const int SubscriptionFiltered = 1200;

    // 1250-1299: delayed messages
    public const int DelayLoaded = 1250;
    public const int DelayRebuilt = 1251;
    public const int DelaySchedulerFailed = 1252;
    public const int DelayHeldRecordMissing = 1253;
    public const int DelayRecordsSkipped = 1254;
    public const int DelayStateWriteFailed = 1255;
    public const int DelayHoldingGone = 1256;
    public const int DelayUnknownRecord = 1257;
    public const int DelayPartitionsAssigned = 1258;
    public const int DelayPartitionsRevoked = 1259;
    public const int DelayJoinFailed = 1260;
    public const int DelayHoldingCreated = 1261;
    public const int DelayHoldingDeleted = 1262;
    public const int DelayStateIgnored = 1263;
    public const int DelayOrphanDeleted = 1264;
    public const int DelayOrphanCleanupFailed = 1265;
    public const int DelayRecordsDamaged = 1266;

    // 1300-1399: replicators
    public const int ReplicatorsLoaded = 1300;
    public const int ReplicatorStored = 1301;
    public const int ReplicatorDeleted = 1302;
    public const int ReplicatorStoppedChanged = 1303;
    public const int ReplicatorWaiting = 1304;
    public const int ReplicatorWorkerFailed = 1305;
    public const int ReplicatorWriteFailed = 1306;
    public const int ReplicatorDeadLettered = 1307;
    public const int ReplicatorBatchFailed = 1308;
    public const int ReplicatorLeasesLost = 1309;
    public const int ReplicatorSinkFailed = 1310;
    public const int ReplicatorTopicAdded = 1311;
    public const int ReplicatorTopicRemoved = 1312;
    public const int ReplicatorTopicRefused = 1313;
    public const int ReplicatorDiscoveryFailed = 1314;
    public const int ReplicatorSeeked = 1315;

    // 1400-1449: damaged records met by subscriptions
    public const int CorruptRecordsSkipped = 1400;
    public const int StoppedAtCorruptRecords = 1401;
    public const int CursorTombstonesFailed = 1402;

    // 1450-1499: consumers ended under their loops (subscription or topic deleted)
    public const int WebhookSubscriptionGone = 1450;
    public const int WebhookWaitingForTopic = 1451;
    public const int WebhookSubscriptionRecreated = 1452;
}
