// Where a file shipped in an npm package lies on disk. Services are bundled by webpack, which rewrites a bare
// `require.resolve(...)` into a module id (a number), so resolution goes through a real Node `require` made for
// this file: in a bundle it resolves from dist/apps/<service>/ up to the node_modules beside it.
import { createRequire } from 'node:module';

const nodeRequire = createRequire(__filename);

/** The absolute path of `file` inside the installed package (`'onnxruntime-node/package.json'`). */
export function resolvePackageFile(file: string): string {
  return nodeRequire.resolve(file);
}
