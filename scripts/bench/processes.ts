import { readFileSync } from 'node:fs';

/** A process's peak and current resident memory, MiB (Linux), to one decimal. */
export function memoryOf(pid: number): { peakMiB: number; rssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (key: string) =>
    Math.round(Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 102.4) / 10;
  return { peakMiB: mib('VmHWM'), rssMiB: mib('VmRSS') };
}

/** Polls `check` every 5 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The V8 heap a Netledger process uses now, MiB, from its /metrics (what of its RSS is live JS). */
export async function heapUsedMiB(metricsUrl: string): Promise<number> {
  const text = await fetch(metricsUrl).then((r) => r.text());
  const bytes = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
  return Math.round(bytes / 104857.6) / 10;
}
