import { defineConfig } from 'vitest/config';

// Tests are tiered by file name: *.unit.spec.ts (pure, no services), *.int.spec.ts (real PostgreSQL
// and Kafka), *.e2e.spec.ts (processes, network namespaces), *.reference.spec.ts (against upstream's
// own code built from the Go module proxy, no services). `npm test` runs all four.
const sourceCondition = ['netledger-source'];

export default defineConfig({
  resolve: { conditions: sourceCondition },
  ssr: { resolve: { conditions: sourceCondition, externalConditions: sourceCondition } },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['{apps,libs,test,scripts}/**/*.unit.spec.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['{apps,libs,test}/**/*.int.spec.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['{apps,libs,test}/**/*.e2e.spec.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'reference',
          include: ['test/reference/**/*.reference.spec.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
