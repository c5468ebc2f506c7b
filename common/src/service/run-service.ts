import { ConfigError } from '../config/env-config.ts';
import { createLogger, type Logger, type LogLevel } from '../log/logger.ts';

/** A long-running part of the system (Zigbee2MQTT style): started once, stopped once. */
export interface Service {
  start(): Promise<void>;
  /** Stops cleanly: finishes or hands back in-flight work, writes markers, closes connections. */
  stop(): Promise<void>;
}

/** Exit code for a configuration mistake (sysexits.h EX_CONFIG), so supervisors can tell it apart. */
export const EXIT_CONFIG = 78;

export interface RunServiceOptions {
  name: string;
  /** Parses config (throwing ConfigError for user mistakes) and wires the service. */
  build: (env: NodeJS.ProcessEnv, logger: Logger) => Promise<Service>;
  env?: NodeJS.ProcessEnv;
  /** How long a clean stop may take before the process exits anyway. */
  stopTimeoutMs?: number;
}

/**
 * The shared `main` of every service entrypoint: config errors are printed for a person (no stack
 * trace) with a non-zero exit; SIGTERM/SIGINT stop the service cleanly; a second signal forces exit.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const env = options.env ?? process.env;
  const logger = createLogger({ service: options.name, level: logLevelFrom(env.LOG_LEVEL) });
  if (env.LOG_LEVEL !== undefined && logLevelFrom(env.LOG_LEVEL) !== env.LOG_LEVEL.toLowerCase()) {
    logger.warn({ given: env.LOG_LEVEL }, 'LOG_LEVEL is not one of fatal, error, warn, info, debug, trace; using info');
  }

  let service: Service;
  try {
    service = await options.build(env, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal({ problems: error.problems }, 'invalid configuration');
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without finishing the clean stop');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: options.stopTimeoutMs ?? 10_000 }, 'clean stop took too long; exiting');
      process.exit(1);
    }, options.stopTimeoutMs ?? 10_000);
    timer.unref();
    try {
      await service.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'clean stop failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  try {
    await service.start();
  } catch (error) {
    logger.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
}

function logLevelFrom(value: string | undefined): LogLevel {
  const v = value?.toLowerCase();
  return v === 'fatal' || v === 'error' || v === 'warn' || v === 'info' || v === 'debug' || v === 'trace' ? v : 'info';
}
