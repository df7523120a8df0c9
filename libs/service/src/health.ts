import { Controller, Get, Injectable, Res, HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** A dependency a process needs before it is ready (PostgreSQL, Kafka, ...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects with the reason otherwise. */
  check(): Promise<void>;
}

/** Where modules register what readiness depends on. */
@Injectable()
export class HealthRegistry {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** Runs every check with a deadline; returns each check's outcome. */
  async run(timeoutMs = 2_000): Promise<{ ready: boolean; checks: Record<string, string> }> {
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

/** Liveness (the process runs) and readiness (its dependencies answer). Never behind auth. */
@Controller()
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  @Get('healthz')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const result = await this.registry.run();
    await reply
      .status(result.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .send({ status: result.ready ? 'ready' : 'not ready', checks: result.checks });
  }
}
