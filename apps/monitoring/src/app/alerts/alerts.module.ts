// Feature module: alert rules, alert mail / NATS / history, and the alerts API.
import { Module } from '@nestjs/common';

import { HostModule } from '../host/host.module';
import { StatusModule } from '../status/status.module';
import { AlertEvaluatorService } from './alert-evaluator.service';
import { AlertHistoryRepository } from './alert-history.repository';
import { AlertsController } from './alerts.controller';
import { JetStreamStreamsSampler } from './jetstream-streams.sampler';

@Module({
  imports: [StatusModule, HostModule],
  controllers: [AlertsController],
  providers: [AlertEvaluatorService, AlertHistoryRepository, JetStreamStreamsSampler],
})
export class AlertsModule {}
