using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Fakes;

/// <summary>
/// A consumer-group coordinator in memory, shared by several engines of one test as Kafka's group coordinator is by a
/// fleet: members of one subscription's group split its partitions round-robin in join order; on every change each
/// member is first told what it lost (and finishes handing it over), then what it gained. <see cref="Crash"/> drops a
/// member without letting it hand over, as a killed process would.
/// </summary>
internal sealed class GroupCoordinator(IMessageLog log)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, List<Member>> _groups = new(StringComparer.Ordinal);
    private TaskCompletionSource? _held;
    private int _joinsHeld;

    /// <summary>Joins started from now on wait until <see cref="ReleaseJoins"/>, as they do in a slow Kafka rebalance.</summary>
    public void HoldJoins() => _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the held joins (and later ones) go on.</summary>
    public void ReleaseJoins() => _held?.TrySetResult();

    /// <summary>How many joins are waiting for <see cref="ReleaseJoins"/>.</summary>
    public int JoinsHeld => Volatile.Read(ref _joinsHeld);

    /// <summary>One engine's view of the coordinator (what it registers as its <see cref="IPartitionCoordinator"/>).</summary>
    public IPartitionCoordinator For(string instance) => new View(this, instance);

    /// <summary>Removes every membership of <paramref name="instance"/> without revoking anything, then rebalances.</summary>
    public async Task Crash(string instance)
    {
        await _gate.WaitAsync();
        try
        {
            foreach (var (group, members) in _groups)
            {
                if (members.RemoveAll(m => m.Instance == instance) > 0)
                {
                    await RebalanceLockedAsync(group, members);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The partitions each instance holds in the subscription's group, by instance name.</summary>
    public async Task<Dictionary<string, int[]>> AssignmentAsync(TopicName topic, string subscription)
    {
        await _gate.WaitAsync();
        try
        {
            return _groups.Where(g => g.Key.StartsWith($"{topic}|{subscription}|", StringComparison.Ordinal))
                .SelectMany(g => g.Value)
                .ToDictionary(m => m.Instance, m => m.Owned.Order().ToArray());
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Every member of the subscription's groups (one group per generation of the subscription).</summary>
    public async Task<List<(long Generation, string Instance, int[] Owned)>> MembersAsync(TopicName topic, string subscription)
    {
        await _gate.WaitAsync();
        try
        {
            return [.. _groups.Where(g => g.Key.StartsWith($"{topic}|{subscription}|", StringComparison.Ordinal))
                .SelectMany(g => g.Value)
                .Select(m => (m.Generation, m.Instance, m.Owned.Order().ToArray()))];
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IPartitionMembership> JoinAsync(string instance, TopicName topic, string subscription, long generation, IPartitionAssignmentHandler handler)
    {
        if (_held is { } held)
        {
            Interlocked.Increment(ref _joinsHeld);
            await held.Task;
            Interlocked.Decrement(ref _joinsHeld);
        }

        var group = $"{topic}|{subscription}|{generation:x}";
        var member = new Member(this, group, generation, instance, topic, handler);
        await _gate.WaitAsync();
        try
        {
            if (!_groups.TryGetValue(group, out var members))
            {
                _groups[group] = members = [];
            }

            members.Add(member);
            await RebalanceLockedAsync(group, members);
        }
        finally
        {
            _gate.Release();
        }

        return member;
    }

    private async Task LeaveAsync(Member member)
    {
        await _gate.WaitAsync();
        try
        {
            if (_groups.TryGetValue(member.Group, out var members) && members.Remove(member))
            {
                await member.Handler.OnRevokedAsync([.. member.Owned]);
                member.Owned.Clear();
                await RebalanceLockedAsync(member.Group, members);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RebalanceLockedAsync(string group, List<Member> members)
    {
        if (members.Count == 0)
        {
            return;
        }

        var info = await log.DescribeTopicAsync(members[0].Topic) ?? throw new TopicNotFoundException(members[0].Topic);
        var target = members.ToDictionary(m => m, _ => new HashSet<int>());
        for (var p = 0; p < info.Partitions.Count; p++)
        {
            target[members[p % members.Count]].Add(p);
        }

        foreach (var m in members)
        {
            var lost = m.Owned.Except(target[m]).ToList();
            if (lost.Count > 0)
            {
                await m.Handler.OnRevokedAsync(lost);
                m.Owned.ExceptWith(lost);
            }
        }

        foreach (var m in members)
        {
            var gained = target[m].Except(m.Owned).ToList();
            if (gained.Count > 0 || !m.Assigned)
            {
                m.Assigned = true;
                await m.Handler.OnAssignedAsync(gained);
                m.Owned.UnionWith(gained);
            }
        }
    }

    private sealed class View(GroupCoordinator coordinator, string instance) : IPartitionCoordinator
    {
        public bool IsShared => true;

        public async ValueTask<IPartitionMembership> JoinAsync(TopicName topic, string subscription, long generation, IPartitionAssignmentHandler handler, CancellationToken cancellationToken)
            => await coordinator.JoinAsync(instance, topic, subscription, generation, handler).WaitAsync(cancellationToken);
    }

    private sealed class Member(GroupCoordinator coordinator, string group, long generation, string instance, TopicName topic, IPartitionAssignmentHandler handler) : IPartitionMembership
    {
        public string Group { get; } = group;

        public long Generation { get; } = generation;

        public string Instance { get; } = instance;

        public TopicName Topic { get; } = topic;

        public IPartitionAssignmentHandler Handler { get; } = handler;

        public HashSet<int> Owned { get; } = [];

        public bool Assigned { get; set; }

        public Dictionary<int, long> Committed { get; } = [];

        public void Commit(int partition, long offset)
        {
            lock (Committed)
            {
                Committed[partition] = offset;
            }
        }

        public async ValueTask DisposeAsync() => await coordinator.LeaveAsync(this);
    }
}
