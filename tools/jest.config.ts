// Jest config for the workspace tools: the sovereignty lint, the dev launcher runtimes, the deploy checks and the
// NATS configuration generator.
// Only these folders and tools/bench/common (the benchmarks' argument parser and percentile): the rest of tools/bench
// and tools/ci belong to other projects.
module.exports = {
  displayName: 'tools',
  preset: '../jest.preset.js',
  testEnvironment: 'node',
  rootDir: '.',
  testMatch: ['<rootDir>/{lint,dev,deploy-check,nats,bench/common}/**/*.spec.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
  // The specs start real processes (nats-server, PostgreSQL, the launcher): run them one at a time.
  maxWorkers: 1,
  // Process-level specs (embedded PostgreSQL initdb, launcher start/stop) take tens of seconds on 2 cores.
  testTimeout: 180_000,
  coverageDirectory: '../coverage/tools',
};
