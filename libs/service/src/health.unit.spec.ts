import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { HealthController, HealthRegistry } from './health';

@Module({ controllers: [HealthController], providers: [HealthRegistry] })
class HealthOnlyModule {}

describe('HealthRegistry', () => {
  it('is injected into the controller by type (decorator metadata works under the test runner)', async () => {
    const app = await NestFactory.createApplicationContext(HealthOnlyModule, { logger: false });
    const controller = app.get(HealthController);
    expect(controller.live()).toEqual({ status: 'ok' });
    expect((controller as unknown as { registry: unknown }).registry).toBe(app.get(HealthRegistry));
    await app.close();
  });

  it('is ready only when every check answers in time, and says why not', async () => {
    const registry = new HealthRegistry();
    registry.register({ name: 'fine', check: async () => {} });
    registry.register({ name: 'broken', check: async () => Promise.reject(new Error('connection refused')) });
    registry.register({ name: 'slow', check: () => new Promise((r) => setTimeout(r, 1_000)) });
    expect(await registry.run(50)).toEqual({
      ready: false,
      checks: { fine: 'ok', broken: 'connection refused', slow: 'no answer within 50 ms' },
    });
  });
});
