import { KafkaContainer } from '@testcontainers/kafka';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { getContainerRuntimeClient } from 'testcontainers';

/** True when Testcontainers finds a Docker engine (it throws when there is none). */
export async function dockerReachable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts PostgreSQL 15 and Kafka in KRaft mode. @testcontainers/kafka drives Confluent's image;
 * cp-kafka 8.1 carries Apache Kafka 4.1, the nearest image to the 4.4 broker scripts/services runs.
 */
export async function startTestcontainers(): Promise<{
  databaseUrl: string;
  kafkaBrokers: string;
  stop: () => Promise<void>;
}> {
  const [postgres, kafka] = await Promise.all([
    new PostgreSqlContainer('postgres:15')
      .withDatabase('netledger')
      .withUsername('netledger')
      .withPassword('netledger')
      .start(),
    new KafkaContainer('confluentinc/cp-kafka:8.1.0').start(),
  ]);
  return {
    databaseUrl: postgres.getConnectionUri(),
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    stop: async () => {
      await Promise.all([kafka.stop(), postgres.stop()]);
    },
  };
}
