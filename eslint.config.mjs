// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '.run/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Nest resolves constructor parameters from decorator metadata: such imports are values.
    languageOptions: { parserOptions: { emitDecoratorMetadata: true, experimentalDecorators: true } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      'no-restricted-imports': 'off',
    },
  },
  {
    // The pure core: no I/O, no Nest, no other Netledger library but the model.
    files: ['libs/model/src/**/*.ts', 'libs/planner-core/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', 'kafkajs', 'pg', '@kubernetes/*'],
              message: 'the pure core does no I/O and imports no framework',
            },
            {
              group: ['node:fs*', 'node:child_process', 'node:net', 'node:http*', 'fs', 'child_process'],
              message: 'the pure core does no I/O',
            },
            {
              group: [
                '@netledger/event-store',
                '@netledger/messaging',
                '@netledger/kube',
                '@netledger/dataplane',
                '@netledger/service',
              ],
              message: 'the pure core imports only @netledger/model',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
