// Test support: a temp SOVREN_ROOT for SQLite files (throwaway PostgreSQL databases come from @sovren/testing).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function createTempRoot(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sovren-db-test-'));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
