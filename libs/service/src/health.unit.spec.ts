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
});
