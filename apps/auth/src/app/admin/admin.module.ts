// Feature module: the operator's admin subjects (auth.admin.*) on top of the identity services.
import { Module } from '@nestjs/common';

import { IdentityModule } from '../identity.module';
import { AuthAdminResponder } from './auth-admin.responder';
import { AuthAdminService } from './auth-admin.service';

@Module({
  imports: [IdentityModule],
  providers: [AuthAdminService, AuthAdminResponder],
})
export class AdminModule {}
