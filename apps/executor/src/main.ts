import { exitOnSignals } from '@netledger/process';
import { ExecutorDaemon } from './executor-daemon';

async function main(): Promise<void> {
  const daemon = new ExecutorDaemon(process.env);
  await daemon.start();
  exitOnSignals(
    () => daemon.stop(),
    (error) => console.error(`executor: shutdown failed: ${String(error)}`),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
