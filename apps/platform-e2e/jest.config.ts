// Platform integration tests: boot the five built services as real processes against real NATS and PostgreSQL.
module.exports = {
  displayName: 'platform-e2e',
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.integration-spec.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
};
