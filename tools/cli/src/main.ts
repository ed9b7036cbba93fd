// Entry point of the `sovren` CLI (bundled to dist/tools/cli/main.js; /usr/local/bin/sovren runs it with node).
import { runCli } from './program';

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
