import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable that names the original's folder when it lies elsewhere. */
export const ORIGINAL_DIR_ENV = 'IOT_ORIGINAL_SOFTWARE_DIR';
/** The environment variable that names a Python interpreter to try first. */
export const ORIGINAL_PYTHON_ENV = 'IOT_ORIGINAL_PYTHON';

/** Where the original's folder usually lies, relative to an ancestor of this repository. */
const SEED_FOLDER = join('shared', 'seed', 'original');

/** The files of the original the compatibility tests run, relative to its folder. */
const APP_FILES = {
  sensorApp: join('device', 'sensor', 'src', 'app.py'),
  sensorConf: join('device', 'sensor', 'app.conf'),
  mqtthandlerApp: join('device', 'mqtthandler', 'src', 'app.py'),
  mqtthandlerConf: join('device', 'mqtthandler', 'app.conf'),
  redisConf: join('device', 'redis', 'redis.conf'),
} as const;

/** The modules the original's device services import (docs/original-devices.md §5). */
const IMPORT_CHECK = 'import redis, paho.mqtt, paho.mqtt.client; print(paho.mqtt.__version__)';

export type OriginalSoftwareLookup = { available: true; software: OriginalSoftware } | { available: false; reason: string };

/**
 * The original Python device software (docs/original-system.md), found where it lies and run from
 * there, unchanged: its code is never copied into this repository. Also the Python interpreter
 * that can run it (redis-py and paho-mqtt 1.x importable).
 */
export class OriginalSoftware {
  readonly dir: string;
  readonly python: string;
  /** paho-mqtt's version as the interpreter reports it. */
  readonly pahoVersion: string;

  private constructor(dir: string, python: string, pahoVersion: string) {
    this.dir = dir;
    this.python = python;
    this.pahoVersion = pahoVersion;
  }

  get sensorApp(): string {
    return join(this.dir, APP_FILES.sensorApp);
  }
  get sensorConf(): string {
    return join(this.dir, APP_FILES.sensorConf);
  }
  get mqtthandlerApp(): string {
    return join(this.dir, APP_FILES.mqtthandlerApp);
  }
  get mqtthandlerConf(): string {
    return join(this.dir, APP_FILES.mqtthandlerConf);
  }
  /** The original's redis.conf (AOF everysec, allkeys-lru), when the folder has it. */
  get redisConf(): string | undefined {
    const path = join(this.dir, APP_FILES.redisConf);
    return existsSync(path) ? path : undefined;
  }

  /**
   * Finds the folder and an interpreter, or says exactly why the original cannot run here. The
   * folder: `$IOT_ORIGINAL_SOFTWARE_DIR`, else `shared/seed/original` under this repository's
   * root or any of its ancestors (a CI checkout may lie deeper or elsewhere).
   */
  static locate(env: NodeJS.ProcessEnv = process.env): OriginalSoftwareLookup {
    const folder = findFolder(env);
    if (!folder.ok) return { available: false, reason: folder.reason };
    const python = findPython(env);
    if (!python.ok) return { available: false, reason: python.reason };
    return { available: true, software: new OriginalSoftware(folder.dir, python.path, python.pahoVersion) };
  }
}

/** This repository's root: harness/src/original is three levels below it. */
export function repositoryRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function findFolder(env: NodeJS.ProcessEnv): { ok: true; dir: string } | { ok: false; reason: string } {
  const named = env[ORIGINAL_DIR_ENV];
  if (named !== undefined && named !== '') {
    const missing = missingFiles(resolve(named));
    return missing.length === 0 ? { ok: true, dir: resolve(named) } : { ok: false, reason: `${ORIGINAL_DIR_ENV}=${named} lacks ${missing.join(', ')}` };
  }
  const tried: string[] = [];
  for (let dir = repositoryRoot(); ; dir = dirname(dir)) {
    const candidate = join(dir, SEED_FOLDER);
    tried.push(candidate);
    if (existsSync(candidate) && missingFiles(candidate).length === 0) return { ok: true, dir: candidate };
    if (dirname(dir) === dir) break;
  }
  return { ok: false, reason: `the original software was not found (set ${ORIGINAL_DIR_ENV}); looked in ${tried.join(', ')}` };
}

function missingFiles(dir: string): string[] {
  const needed = [APP_FILES.sensorApp, APP_FILES.sensorConf, APP_FILES.mqtthandlerApp, APP_FILES.mqtthandlerConf];
  return needed.filter((file) => !existsSync(join(dir, file)));
}

function findPython(env: NodeJS.ProcessEnv): { ok: true; path: string; pahoVersion: string } | { ok: false; reason: string } {
  // Debian's interpreter first: its python3-redis and python3-paho-mqtt are what CI installs;
  // the python3 first on PATH may be another one (pyenv, a venv) without them.
  const candidates = [env[ORIGINAL_PYTHON_ENV], '/usr/bin/python3', 'python3'].filter((c): c is string => c !== undefined && c !== '');
  const problems: string[] = [];
  for (const candidate of [...new Set(candidates)]) {
    let version: string;
    try {
      version = execFileSync(candidate, ['-c', IMPORT_CHECK], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).trim();
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message).trim().split('\n').at(-1);
      problems.push(`${candidate}: ${stderr}`);
      continue;
    }
    // paho-mqtt 2 requires a callback API version in Client(), which the original does not pass.
    if (!version.startsWith('1.')) {
      problems.push(`${candidate}: paho-mqtt ${version}, the original needs 1.x`);
      continue;
    }
    return { ok: true, path: candidate, pahoVersion: version };
  }
  return {
    ok: false,
    reason: `no Python interpreter imports redis and paho-mqtt 1.x (Debian: apt-get install python3-redis python3-paho-mqtt): ${problems.join('; ')}`,
  };
}
