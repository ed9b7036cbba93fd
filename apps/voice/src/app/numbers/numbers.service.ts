// Our phone numbers: synced from Skyetel into phone_numbers.db (at start, every SOVREN_SKYETEL_SYNC_MINUTES, and on
// request), searched, ordered and released through Skyetel, and assigned to an application (routing is ours:
// Skyetel only sends the call to our endpoint group).
import { HttpStatus, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { errorMessage } from '@sovren/resilience';
import { e164ToSkyetelNumber, SkyetelClient, SkyetelError, skyetelNumberToE164 } from '@sovren/skyetel';

import { VOICE_ENV, type VoiceEnv } from '../voice-config/voice.env';
import { ApplicationsRepository } from './applications.repository';
import { PhoneNumberRow, PhoneNumbersRepository } from './phone-numbers.repository';
import { SKYETEL_CLIENT } from './skyetel-client.provider';
import { toApiError, viaSkyetel } from './skyetel-error.mapper';

export interface SyncResult {
  seen: number;
  released: number;
}

export interface AvailableNumberView {
  number: string;
  rateCenter: string | null;
  state: string | null;
}

/** Who asks: the user, and whether they are an admin (only admins may take numbers that are nobody's yet). */
export interface NumberCaller {
  userId: string;
  admin: boolean;
}

@Injectable()
export class NumbersService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NumbersService.name);
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<SyncResult> | null = null;

  constructor(
    @Inject(SKYETEL_CLIENT) private readonly skyetel: SkyetelClient | null,
    @Inject(VOICE_ENV) private readonly env: VoiceEnv,
    private readonly numbers: PhoneNumbersRepository,
    private readonly applications: ApplicationsRepository,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.skyetel) {
      this.logger.warn({ msg: 'Skyetel credentials not set: the numbers API answers 503 until they are' });
      return;
    }
    const minutes = this.env.SOVREN_SKYETEL_SYNC_MINUTES;
    if (minutes === 0) return;
    const run = (): void => {
      this.sync().catch((error: unknown) =>
        this.logger.warn({
          msg: 'Skyetel numbers sync failed; routing keeps the last synced numbers',
          error: errorMessage(error),
        }),
      );
    };
    run();
    this.timer = setInterval(run, minutes * 60_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Pulls our numbers from Skyetel into phone_numbers.db; numbers Skyetel no longer lists are released. */
  sync(): Promise<SyncResult> {
    // One sync at a time: a second caller shares the running one instead of spending the request budget twice.
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /**
   * The caller's active numbers. Numbers synced from Skyetel start with no owner: only an admin sees them (and can
   * route or release them, which makes them the admin's); a user sees only the numbers that are theirs.
   */
  async list(caller: NumberCaller, sync: boolean): Promise<PhoneNumberRow[]> {
    this.client();
    if (sync) await viaSkyetel(() => this.sync());
    const rows = await this.numbers.listActive(caller.userId);
    return caller.admin ? rows : rows.filter((row) => row.ownerId === caller.userId);
  }

  async searchAvailable(areaCode: string, limit: number): Promise<AvailableNumberView[]> {
    const skyetel = this.client();
    const found = await viaSkyetel(() => skyetel.searchAvailable(areaCode, limit));
    const views: AvailableNumberView[] = [];
    for (const row of found) {
      const number = skyetelNumberToE164(row.number);
      if (!number) {
        this.logger.warn({ msg: 'Skyetel offered a number that is not NANP; skipped', areaCode });
        continue;
      }
      views.push({ number, rateCenter: row.rate_center ?? null, state: row.state ?? null });
    }
    return views;
  }

  async purchase(number: string, ownerId: string): Promise<PhoneNumberRow> {
    const skyetel = this.client();
    if (!e164ToSkyetelNumber(number)) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        ApiErrorCode.UNPROCESSABLE,
        'Skyetel sells North American numbers only (+1 and ten digits)',
      );
    }
    if (await this.numbers.findActive(number)) {
      throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, `${number} is already one of our numbers`);
    }
    const ordered = await viaSkyetel(() => skyetel.orderNumber(number));
    await this.numbers.upsertFromCarrier(number, String(ordered.id), ownerId);
    await this.numbers.assign(number, ownerId, null);
    this.logger.log({ msg: 'phone number ordered from Skyetel', number, carrierId: ordered.id, ownerId });
    return this.mustFind(number);
  }

  async release(number: string, caller: NumberCaller): Promise<PhoneNumberRow> {
    const skyetel = this.client();
    const ownerId = caller.userId;
    const row = await this.ownedBy(number, caller);
    const carrierId = row.carrierId ?? String((await viaSkyetel(() => skyetel.findPhoneNumber(number)))?.id ?? '');
    if (carrierId === '') {
      // Never Skyetel's (added by hand) or already gone there: only our routing copy is left to release.
      this.logger.warn({ msg: 'Skyetel does not list the number being released; releasing our copy', number });
    } else {
      try {
        await skyetel.releaseNumber(Number(carrierId));
      } catch (error) {
        // Already gone at Skyetel: the release we wanted has happened; anything else is a real failure.
        if (!(error instanceof SkyetelError && error.kind === 'not_found')) throw toApiError(error);
        this.logger.warn({ msg: 'Skyetel no longer had the number we released', number, carrierId });
      }
    }
    await this.numbers.markReleased(number);
    this.logger.log({ msg: 'phone number released at Skyetel', number, carrierId, ownerId });
    return { ...row, status: 'released', applicationId: null };
  }

  async assign(number: string, applicationId: string, caller: NumberCaller): Promise<PhoneNumberRow> {
    this.client();
    const ownerId = caller.userId;
    await this.ownedBy(number, caller);
    const application = await this.applications.find(applicationId);
    if (!application || application.ownerId !== ownerId) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `no application ${applicationId} of yours`);
    }
    await this.numbers.assign(number, ownerId, applicationId);
    return this.mustFind(number);
  }

  private client(): SkyetelClient {
    if (!this.skyetel) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'phone numbers are not available: SOVREN_SKYETEL_SID and SOVREN_SKYETEL_SECRET are not configured',
      );
    }
    return this.skyetel;
  }

  /**
   * An active number that is the caller's, or not yet anyone's when the caller is an admin; 404 otherwise, telling
   * nothing of others' numbers.
   */
  private async ownedBy(number: string, caller: NumberCaller): Promise<PhoneNumberRow> {
    const row = await this.numbers.findActive(number);
    if (!row || !(row.ownerId === caller.userId || (row.ownerId === null && caller.admin))) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `${number} is not one of your numbers`);
    }
    return row;
  }

  private async mustFind(number: string): Promise<PhoneNumberRow> {
    const row = await this.numbers.findActive(number);
    if (!row) throw new Error(`phone number ${number} vanished right after it was written`);
    return row;
  }

  private async runSync(): Promise<SyncResult> {
    const skyetel = this.client();
    const listed = await skyetel.listPhoneNumbers();
    const present: string[] = [];
    for (const row of listed) {
      const number = skyetelNumberToE164(row.number);
      if (!number) {
        this.logger.warn({ msg: 'Skyetel lists a number that is not NANP; not synced', carrierId: row.id });
        continue;
      }
      present.push(number);
      await this.numbers.upsertFromCarrier(number, String(row.id));
    }
    const released = await this.numbers.releaseMissing(present);
    this.logger.log({ msg: 'Skyetel numbers synced', seen: present.length, released });
    return { seen: present.length, released };
  }
}
