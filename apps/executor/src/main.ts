import { ExecutorDaemon } from './executor-daemon';

async function main(): Promise<void> {
  const daemon = new ExecutorDaemon(process.env);
  await daemon.start();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      daemon.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`executor: shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
