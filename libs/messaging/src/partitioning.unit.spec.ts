import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from './partitioning';

describe('partitionForKey', () => {
  it("matches KafkaJS's default (Java-compatible) partitioner for every key", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 32, 97]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 500; i++) {
        const key =
          i % 3 === 0
            ? `node-${i}`
            : i % 3 === 1
              ? `ip-10-0-${i}-7.ec2.internal`
              : `n${'x'.repeat(i % 13)}${i}`;
        const expected = partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } });
        expect(partitionForKey(key, partitions), key).toBe(expected);
      }
    }
  });
});
