// Bundles the `sovren` CLI into dist/tools/cli/main.js (libraries from source through the tsconfig path aliases,
// node_modules external), with a shebang so that it works as the workspace's `bin`.
const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { BannerPlugin } = require('webpack');
const { join } = require('path');

module.exports = {
  output: {
    path: join(__dirname, '../../dist/tools/cli'),
    clean: true,
  },
  plugins: [
    new NxAppWebpackPlugin({
      target: 'node',
      compiler: 'tsc',
      skipTypeChecking: true,
      main: './src/main.ts',
      tsConfig: './tsconfig.app.json',
      optimization: false,
      outputHashing: 'none',
      generatePackageJson: false,
      sourceMap: true,
    }),
    new BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true }),
  ],
};
