// Jest config of the `sovren` CLI: its units in-process; the CLI against a running platform is tested in
// apps/platform-e2e (first-run.integration-spec.ts).
module.exports = {
  displayName: 'cli',
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
  coverageDirectory: '../../coverage/tools/cli',
};
