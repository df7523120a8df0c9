import { Controller, Get, Injectable, Res, HttpStatus } from '@nestjs/common';
import { ReadinessChecks } from '@netledger/process';
import type { FastifyReply } from 'fastify';

export type { ReadinessCheck } from '@netledger/process';

/** Where modules register what readiness depends on (the process's ReadinessChecks, injectable). */
@Injectable()
export class HealthRegistry extends ReadinessChecks {}

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
