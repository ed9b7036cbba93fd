// The one webpack configuration of every SOVREN service: bundles apps/<name>/src/main.ts (libraries from source
// through the tsconfig path aliases) into dist/apps/<name>/main.js for Node; node_modules stay external.
const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { join } = require('path');

module.exports = function nodeAppWebpackConfig(appDir) {
  const name = require('path').basename(appDir);
  return {
    output: {
      path: join(appDir, '../../dist/apps', name),
      clean: true,
      ...(process.env.NODE_ENV !== 'production' && {
        devtoolModuleFilenameTemplate: '[absolute-resource-path]',
      }),
    },
    plugins: [
      new NxAppWebpackPlugin({
        target: 'node',
        compiler: 'tsc',
        // Type errors are caught by the `typecheck` target; bundling stays transpile-only and fast.
        skipTypeChecking: true,
        main: './src/main.ts',
        tsConfig: './tsconfig.app.json',
        optimization: false,
        outputHashing: 'none',
        generatePackageJson: true,
        sourceMap: true,
      }),
    ],
  };
};
