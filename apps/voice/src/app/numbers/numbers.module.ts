// Numbers: our Skyetel numbers (sync, search, order, release) and their routing to applications.
import { Module } from '@nestjs/common';

import { CallsModule } from '../calls/calls.module';
import { NumbersController } from './numbers.controller';
import { NumbersService } from './numbers.service';
import { skyetelClientProvider } from './skyetel-client.provider';

@Module({
  imports: [CallsModule],
  controllers: [NumbersController],
  providers: [skyetelClientProvider, NumbersService],
})
export class NumbersModule {}
