import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { isNetledgerError } from '@netledger/model';
import type { FastifyReply } from 'fastify';

const STATUS: Record<string, number> = {
  'AUTH.UNAUTHENTICATED': 401,
  'AUTH.FORBIDDEN': 403,
  'AUTH.UNAVAILABLE': 503,
  'NODE.NOT_FOUND': 404,
  'PLAN.NOT_FOUND': 404,
  'PLAN.BEYOND_RETENTION': 410,
};

/** Every error as JSON with a stable code and a clear message; codes map to HTTP statuses here only. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (isNetledgerError(error)) {
      const status = STATUS[error.code] ?? (error.code.startsWith('INPUT.') ? 400 : 500);
      void reply.status(status).send({ error: error.code, message: error.message });
      return;
    }
    if (error instanceof HttpException) {
      void reply.status(error.getStatus()).send({ error: 'HTTP', message: error.message });
      return;
    }
    void reply.status(500).send({ error: 'INTERNAL', message: 'internal error' });
  }
}
