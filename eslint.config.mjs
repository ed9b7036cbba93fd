import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: ['**/dist', '**/out-tsc', '**/build', '**/node_modules'],
  },
  {
    // Type-aware rules that catch real bugs: a promise nobody awaits or handles, or one passed where a callback's
    // result is ignored (an async Express handler, an async setInterval callback).
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.jsx'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [
            '^.*/eslint(\\.base)?\\.config\\.[cm]?[jt]s$',
            // the one webpack configuration every app's webpack.config.js uses
            '^.*/webpack\\.node-app(\\.js)?$',
          ],
          // Apps never import apps: they share libs and talk over NATS.
          depConstraints: [
            { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['scope:lib', 'type:native'] },
            { sourceTag: 'scope:lib', onlyDependOnLibsWithTags: ['scope:lib', 'type:native'] },
            { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:lib', 'type:native'] },
            { sourceTag: 'scope:e2e', onlyDependOnLibsWithTags: ['scope:lib'] },
            { sourceTag: 'type:native', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
    },
  },
  {
    // Test doubles and test helpers never reach production code (nor an app's bundle): @sovren/testing and the
    // libraries' `testing` entry points are for specs, their support files, benchmarks and tools.
    files: ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'],
    ignores: [
      '**/*.spec.ts',
      '**/*.integration-spec.ts',
      '**/__tests__/**',
      'libs/*/src/testing/**',
      'libs/testing/**',
      'apps/platform-e2e/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@sovren/([a-z-]+/)?testing$',
              message: 'Test helpers and stand-ins are for tests only: keep them out of production code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.cts', '**/*.mts', '**/*.js', '**/*.jsx', '**/*.cjs', '**/*.mjs'],
    // Override or add rules here
    rules: {},
  },
  // Formatting is Prettier's (.prettierrc): no ESLint rule may disagree with it.
  prettier,
];
