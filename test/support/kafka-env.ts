/**
 * How this process reaches Kafka securely (what `scripts/services env` exports: the CA, and the
 * administrator's user), for the apps a test or a bench starts with an environment of its own.
 */
export function kafkaEnv(): Record<string, string> {
  const names = ['KAFKA_SECURITY', 'KAFKA_CA_FILE', 'KAFKA_USERNAME', 'KAFKA_PASSWORD_FILE'] as const;
  return Object.fromEntries(
    names.flatMap((name) => (process.env[name] !== undefined ? [[name, process.env[name]!]] : [])),
  );
}
