// The api_auth DataSource for the TypeORM CLI (e.g. `migration:show -d libs/database/src/cli/api-auth.cli-data-source.ts`).
// Not exported by the lib: importing it reads and validates the environment.

import { loadPlatformConfig } from '@sovren/config';
import { createSqliteDataSource } from '../data-sources/sqlite.data-source';

export default createSqliteDataSource(loadPlatformConfig(), 'api_auth');
