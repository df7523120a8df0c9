/**
 * Runs `attempt` until it succeeds or `stopped()` says to give up, waiting `delayMs` after each
 * failure. `onFailure` hears of each one, to log it and to tidy up before the next try. What the
 * apps do when they cannot (re)start a consumer: keep trying, rather than live on doing nothing.
 */
export async function retryUntilDone(
  attempt: () => Promise<void>,
  options: {
    readonly stopped: () => boolean;
    readonly onFailure: (error: unknown, attempt: number) => void | Promise<void>;
    readonly delayMs?: number;
  },
): Promise<void> {
  for (let n = 1; !options.stopped(); n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      await options.onFailure(error, n);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 2000));
    }
  }
}
