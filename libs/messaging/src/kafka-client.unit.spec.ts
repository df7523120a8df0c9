import { describe, expect, it } from 'vitest';
import { parseBrokers } from './kafka-client';
import { topicNames } from './topics';

describe('parseBrokers', () => {
  it('splits and trims a comma-separated list', () => {
    expect(parseBrokers(' 127.0.0.1:9092, kafka-1.example:19092 ')).toEqual([
      '127.0.0.1:9092',
      'kafka-1.example:19092',
    ]);
  });
  it.each([undefined, '', ' , ', 'kafka', 'kafka:0', 'kafka:99999', 'a b:9092'])('rejects %j', (value) => {
    expect(() => parseBrokers(value)).toThrow(/KAFKA_BROKERS/);
  });
});

describe('topicNames', () => {
  it('names the three topics: cluster events, the plan, executors’ status', () => {
    expect(topicNames()).toEqual({
      clusterEvents: 'netledger.cluster-events',
      plan: 'netledger.plan',
      nodeStatus: 'netledger.node-status',
    });
  });
});
