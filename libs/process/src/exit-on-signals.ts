/**
 * On SIGTERM or SIGINT: `stop()`, then exit with status 0; if stopping fails, `failed` hears why
 * and the process exits with status 1.
 */
export function exitOnSignals(stop: () => Promise<void>, failed: (error: unknown) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          failed(error);
          process.exit(1);
        },
      );
    });
  }
}
