import type { Logger } from '@iot/common/log';
import { checkConfigValue, type DesiredConfig, PROTOCOL_VERSION, REDIS_KEY, REMOTE_CONFIG_KEYS, type ReportedConfig } from '@iot/common/protocol';
import type { Redis } from 'ioredis';

type ConfigError = NonNullable<ReportedConfig['errors']>[number];

/**
 * The device side of the configuration twin (docs/configuration-twin.md §3). The backend publishes a versioned
 * desired configuration (retained); the device applies a version newer than the one it applied
 * last and reports its effective configuration.
 *
 * Choices:
 * - A desired version is applied even when some of its keys are refused (unknown, read-only or
 *   invalid values, checked by checkConfigValue): the valid keys converge, the refused ones are
 *   reported in `errors`, and the version counts as applied, so the same bad version is not
 *   retried on every connect. The backend fixes it by publishing a newer version.
 * - Keys a desired version does not name are left as they are.
 * - The report holds what Redis holds for every settable key (a missing key is omitted: the
 *   service uses its default), so a value changed later by set_config or by hand shows as drift.
 * - Applies run one at a time within this object; only the uplink writes these keys.
 */
export class ConfigTwin {
  private readonly redis: Redis;
  private readonly logger: Logger;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: { redis: Redis; logger: Logger }) {
    this.redis = options.redis;
    this.logger = options.logger;
  }

  /**
   * Applies `desired` if its version is newer than the applied one, in one MULTI (settings,
   * version and refusals together), and returns the report to publish. An older or equal version
   * changes nothing and returns the current report. Rejects with an Error if Redis fails.
   */
  applyDesired(desired: DesiredConfig): Promise<ReportedConfig> {
    return this.serialised(() => this.apply(desired));
  }

  /** The effective configuration and the applied version, e.g. to publish on connect. Rejects if Redis fails. */
  report(): Promise<ReportedConfig> {
    return this.serialised(() => this.readReport());
  }

  private async apply(desired: DesiredConfig): Promise<ReportedConfig> {
    try {
      const applied = this.parseVersion(await this.redis.get(REDIS_KEY.configAppliedVersion));
      if (desired.version <= applied) {
        this.logger.info({ event: 'config_desired_ignored', version: desired.version, applied }, 'desired configuration is not newer than the applied one');
        return await this.readReport();
      }
      const values: [string, string][] = [];
      const errors: ConfigError[] = [];
      for (const [key, value] of Object.entries(desired.config)) {
        const check = checkConfigValue(key, value);
        if (check.ok) values.push([key, check.value]);
        else errors.push({ key, code: check.code, message: check.message });
      }
      const transaction = this.redis.multi();
      for (const [key, value] of values) transaction.set(key, value);
      transaction.set(REDIS_KEY.configAppliedVersion, String(desired.version));
      if (errors.length > 0) transaction.set(REDIS_KEY.configAppliedErrors, JSON.stringify(errors));
      else transaction.del(REDIS_KEY.configAppliedErrors);
      const results = await transaction.exec();
      const failed = results?.find(([error]) => error !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error('transaction was aborted');
      this.logger.info(
        { event: 'config_applied', version: desired.version, previous: applied, set: Object.fromEntries(values), refused: errors },
        errors.length > 0 ? `applied desired configuration; refused ${errors.map((e) => e.key).join(', ')}` : 'applied desired configuration',
      );
      return await this.readReport();
    } catch (error) {
      throw new Error(`could not apply desired configuration version ${desired.version}: ${messageOf(error)}`, { cause: error });
    }
  }

  private async readReport(): Promise<ReportedConfig> {
    let raw: (string | null)[];
    try {
      raw = await this.redis.mget(...REMOTE_CONFIG_KEYS, REDIS_KEY.configAppliedVersion, REDIS_KEY.configAppliedErrors);
    } catch (error) {
      throw new Error(`could not read the device configuration: ${messageOf(error)}`, { cause: error });
    }
    const config: Record<string, string> = {};
    REMOTE_CONFIG_KEYS.forEach((key, i) => {
      const value = raw[i];
      if (value !== null && value !== undefined) config[key] = value;
    });
    const errors = this.parseErrors(raw[REMOTE_CONFIG_KEYS.length + 1] ?? null);
    return {
      v: PROTOCOL_VERSION,
      version: this.parseVersion(raw[REMOTE_CONFIG_KEYS.length] ?? null),
      config,
      ...(errors.length > 0 ? { errors } : {}),
    };
  }

  /** A damaged version counts as 0, so the next desired version is applied rather than the twin getting stuck. */
  private parseVersion(raw: string | null): number {
    if (raw === null) return 0;
    const version = Number(raw);
    if (Number.isSafeInteger(version) && version >= 0) return version;
    this.logger.warn({ event: 'bad_setting', key: REDIS_KEY.configAppliedVersion, value: raw }, 'applied config version is not an integer; treating it as 0');
    return 0;
  }

  private parseErrors(raw: string | null): ConfigError[] {
    if (raw === null) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      if (Array.isArray(parsed)) return parsed.filter(isConfigError);
    } catch {
      // Reported below.
    }
    this.logger.warn({ event: 'bad_setting', key: REDIS_KEY.configAppliedErrors }, 'stored config refusals are unreadable; reporting none');
    return [];
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function isConfigError(value: unknown): value is ConfigError {
  if (typeof value !== 'object' || value === null) return false;
  const { key, code, message } = value as Record<string, unknown>;
  return typeof key === 'string' && typeof code === 'string' && typeof message === 'string';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
