// Entry point of the auth service process (systemd unit sovren-auth, or `npx nx serve auth`).
import 'reflect-metadata';
import { bootstrapService } from '@sovren/service';

import { AuthModule } from './app/auth.module';

bootstrapService(AuthModule, 'auth').catch((error: unknown) => {
  process.stderr.write(`auth: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
