// The postgres DataSource for the TypeORM CLI (e.g. `migration:show -d libs/database/src/cli/postgres.cli-data-source.ts`).
// Not exported by the lib: importing it reads and validates the environment.

import { loadPlatformConfig } from '@sovren/config';
import { createPostgresDataSource } from '../data-sources/postgres.data-source';

export default createPostgresDataSource(loadPlatformConfig(), { applicationName: 'sovren-typeorm-cli', poolSize: 2 });
