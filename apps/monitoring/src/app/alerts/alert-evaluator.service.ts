// Every second: refresh the platform status, evaluate the alert rules against it and the host/GPU readings,
// and send each alert that starts or stops firing to NATS (`monitoring.alert`), the operators' mail and the
// history table. Sending never blocks evaluation (mail and history go through retry queues).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { MailSender } from '@sovren/mail';
import { AlertV1, MONITORING_ALERT, NatsClient } from '@sovren/messaging';
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { errorMessage } from '@sovren/resilience';

import { GpuMetricsService } from '../host/gpu-metrics.service';
import { HostMetricsService } from '../host/host-metrics.service';
import { MONITORING_ENV, MonitoringEnv, splitRecipients } from '../monitoring-config/monitoring.env';
import { MonitoringMetrics } from '../monitoring.metrics';
import { PlatformStatusService } from '../status/platform-status.service';
import { AlertEventRow, AlertHistoryRepository } from './alert-history.repository';
import { AlertMailer } from './alert-mailer';
import { ALERT_RULES, AlertCondition, AlertThresholds, evaluateAlertRules } from './alert-rules';
import { AlertState } from './alert-state';
import { JetStreamStreamsSampler } from './jetstream-streams.sampler';

export const ALERT_EVALUATION_INTERVAL_MS = 1_000;

@Injectable()
export class AlertEvaluatorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AlertEvaluatorService.name);
  private readonly state = new AlertState();
  readonly mailer: AlertMailer;
  private readonly thresholds: AlertThresholds;
  private readonly firingGauge: Gauge<'rule'>;
  private readonly eventsCounter: Counter<'rule' | 'state'>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly status: PlatformStatusService,
    private readonly host: HostMetricsService,
    private readonly gpus: GpuMetricsService,
    private readonly streams: JetStreamStreamsSampler,
    private readonly history: AlertHistoryRepository,
    private readonly nats: NatsClient,
    config: PlatformConfig,
    metrics: MonitoringMetrics,
    mail: MailSender,
    @Inject(MONITORING_ENV) env: MonitoringEnv,
  ) {
    this.mailer = new AlertMailer(mail, {
      recipients: splitRecipients(env.SOVREN_ALERT_RECIPIENTS),
      origin: `${hostname()} (${config.env})`,
    });
    this.thresholds = {
      diskUsedRatio: env.SOVREN_ALERT_DISK_USED_PERCENT / 100,
      errorRatio: env.SOVREN_ALERT_ERROR_RATE_PERCENT / 100,
      gpuTemperatureCelsius: env.SOVREN_ALERT_GPU_TEMPERATURE_CELSIUS,
      gpuMemoryUsedRatio: env.SOVREN_ALERT_GPU_MEMORY_USED_PERCENT / 100,
      interTokenP99Seconds: env.SOVREN_ALERT_INTER_TOKEN_P99_MS / 1000,
    };
    this.firingGauge = metrics.alertsFiring;
    this.eventsCounter = metrics.alertEvents;
    for (const rule of ALERT_RULES) this.firingGauge.set({ rule }, 0);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.restoreOpenAlerts();
    this.timer = setInterval(() => this.evaluate(), ALERT_EVALUATION_INTERVAL_MS);
    this.timer.unref();
  }

  /** Alerts a previous monitoring process left firing are taken over, so they resolve instead of firing twice. */
  private async restoreOpenAlerts(): Promise<void> {
    let rows: AlertEventRow[];
    try {
      rows = await this.history.open();
    } catch (error) {
      this.logger.warn({
        msg: 'open alerts of a previous run not restored; they stay open in the history',
        err: errorMessage(error),
      });
      return;
    }
    const restored = rows.flatMap((row) => {
      const rule = ALERT_RULES.find((r) => r === row.rule);
      if (!rule || (row.severity !== 'critical' && row.severity !== 'warning')) {
        this.logger.warn({
          msg: 'open alert of an unknown rule or severity left as it is',
          id: row.id,
          rule: row.rule,
          severity: row.severity,
        });
        return [];
      }
      const condition: AlertCondition = {
        fingerprint: row.fingerprint,
        rule,
        severity: row.severity,
        summary: row.summary,
      };
      if (row.service !== null) condition.service = row.service;
      return [{ condition, startsAt: row.firedAt }];
    });
    this.state.restore(restored);
    if (restored.length > 0)
      this.logger.log({
        msg: 'took over open alerts from the history',
        fingerprints: restored.map((r) => r.condition.fingerprint),
      });
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  firing(): AlertV1[] {
    return this.state.firing();
  }

  evaluate(now = Date.now()): AlertV1[] {
    const status = this.status.refresh(now);
    const disk = this.host.latest()?.disk;
    const startupGraceOver = now - this.status.startedAt > this.status.startupGraceMs;
    const conditions = evaluateAlertRules({
      services: status.services,
      startupGraceOver,
      errorRates: this.status.tracker.errorRates(now),
      interTokenP99: this.status.tracker.interTokenQuantile(0.99, now),
      disk: disk ? { path: disk.path, usedRatio: disk.usedRatio } : undefined,
      gpus: this.gpus.latest(),
      streams: this.streams.latest(),
      thresholds: this.thresholds,
    });
    const events = this.state.update(conditions, now, startupGraceOver);
    for (const event of events) this.send(event);
    if (events.length > 0) {
      const counts = new Map<string, number>(ALERT_RULES.map((rule) => [rule, 0]));
      for (const alert of this.state.firing()) counts.set(alert.rule, (counts.get(alert.rule) ?? 0) + 1);
      for (const [rule, count] of counts) this.firingGauge.set({ rule }, count);
    }
    return events;
  }

  private send(alert: AlertV1): void {
    this.eventsCounter.inc({ rule: alert.rule, state: alert.state });
    const line = {
      msg: `alert ${alert.state}`,
      rule: alert.rule,
      fingerprint: alert.fingerprint,
      severity: alert.severity,
      summary: alert.summary,
    };
    if (alert.state === 'firing') this.logger.warn(line);
    else this.logger.log(line);
    try {
      this.nats.publish(MONITORING_ALERT, alert);
    } catch (error) {
      this.logger.error({
        msg: 'alert not published on NATS',
        fingerprint: alert.fingerprint,
        state: alert.state,
        err: errorMessage(error),
      });
    }
    this.mailer.send(alert);
    this.history.record(alert);
  }
}
