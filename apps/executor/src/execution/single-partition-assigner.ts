import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * A consumer-group assigner that gives the group's member one partition of one topic and nothing
 * else: KafkaJS has no manual assignment, and an executor must read only the partition that
 * carries its node's key, not every node's traffic.
 */
export function singlePartitionAssigner(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: `NetledgerSinglePartition-${topic}-${partition}`,
    version: 1,
    protocol: ({ topics }) => ({
      name: `NetledgerSinglePartition-${topic}-${partition}`,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    }),
    assign: async ({ members }) =>
      members.map((member, i) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: [partition] } : {},
          userData: Buffer.alloc(0),
        }),
      })),
  });
}
