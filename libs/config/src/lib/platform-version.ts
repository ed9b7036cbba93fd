// Finds the platform version: SOVREN_VERSION when packaging set it, else the root package.json of the
// checkout or install the process runs from (found by walking up, so it works from dist/ and from sources).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errorMessage } from '@sovren/resilience';

const ROOT_PACKAGE_NAME = '@sovren/source';
export const UNKNOWN_VERSION = '0.0.0-unknown';

export function readPlatformVersion(startDirs: readonly string[] = [process.cwd(), __dirname]): string {
  for (const start of startDirs) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'package.json');
      const version = existsSync(candidate) ? rootPackageVersion(candidate) : undefined;
      if (version) return version;
      if (dirname(dir) === dir) break;
    }
  }
  return UNKNOWN_VERSION;
}

function rootPackageVersion(file: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { name, version } = parsed as { name?: unknown; version?: unknown };
    return name === ROOT_PACKAGE_NAME && typeof version === 'string' ? version : undefined;
  } catch (error) {
    // An unreadable package.json on the way up is not ours to fix; keep walking, but say why it was skipped.
    process.stderr.write(`config: skipping ${file}: ${errorMessage(error)}\n`);
    return undefined;
  }
}
