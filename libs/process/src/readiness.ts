/** A dependency a process needs before it is ready (PostgreSQL, Kafka, its plan, ...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects with the reason otherwise. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Each check's outcome: `ok`, or why not. */
  readonly checks: Record<string, string>;
}

/** Where a process registers what its readiness depends on. */
export class ReadinessChecks {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** Runs every check with a deadline; returns each check's outcome. */
  async run(timeoutMs = 2_000): Promise<ReadinessReport> {
    const outcomes = await Promise.all(
      this.checks.map(async (c) => [c.name, await outcome(c, timeoutMs)] as const),
    );
    return { ready: outcomes.every(([, o]) => o === 'ok'), checks: Object.fromEntries(outcomes) };
  }
}

async function outcome(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check.check(), deadline]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}
