import { describe, expect, it } from 'vitest';
import { ReadinessChecks } from './readiness';

describe('ReadinessChecks', () => {
  it('is ready only when every check answers in time, and says why not', async () => {
    const checks = new ReadinessChecks();
    checks.register({ name: 'fine', check: async () => {} });
    checks.register({ name: 'broken', check: async () => Promise.reject(new Error('connection refused')) });
    checks.register({ name: 'slow', check: () => new Promise((r) => setTimeout(r, 1_000)) });
    expect(await checks.run(50)).toEqual({
      ready: false,
      checks: { fine: 'ok', broken: 'connection refused', slow: 'no answer within 50 ms' },
    });
  });
});
