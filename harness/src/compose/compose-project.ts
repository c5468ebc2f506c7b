import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The repository root: compose files resolve their build contexts and mounts from it. */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ComposeProjectOptions {
  /** A compose file, relative to the repository root. */
  file: string;
  /** The project name; every container, network and volume is prefixed and labelled with it. */
  name: string;
  /** Variables the compose file substitutes (ports, passwords), on top of this process's env. */
  env?: Record<string, string>;
  /** An env file instead of the repository's `.env`, which tests must never write. */
  envFile?: string;
}

/** What `docker-compose down -v` must leave behind: nothing of the project. */
export interface Leftovers {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/**
 * A project of one of the repository's compose files, driven through Debian's docker-compose v1
 * exactly as the README tells a person to. Used by tests and benchmarks (docs/containers.md §7).
 */
export class ComposeProject {
  readonly options: ComposeProjectOptions;

  constructor(options: ComposeProjectOptions) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(options.name)) throw new Error(`compose project name ${JSON.stringify(options.name)}: lowercase letters, digits, - and _ only`);
    this.options = options;
  }

  /** Runs `docker-compose <args>` for this project; rejects with its output when it fails. */
  async compose(args: readonly string[], timeoutMs = 600_000, input?: string): Promise<string> {
    const base = ['-p', this.options.name, '-f', this.options.file, ...(this.options.envFile === undefined ? [] : ['--env-file', this.options.envFile])];
    const env = { ...process.env, ...this.options.env, DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' };
    if (input !== undefined) {
      const result = spawnSync('docker-compose', [...base, ...args], { cwd: REPO_ROOT, env, input, encoding: 'utf8', timeout: timeoutMs });
      if (result.status !== 0) throw new Error(`docker-compose ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
      return result.stdout;
    }
    try {
      const { stdout } = await run('docker-compose', [...base, ...args], { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`docker-compose ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  /** Container ids of the project's services (running or not). */
  async containerIds(): Promise<string[]> {
    return (await this.compose(['ps', '-q'])).split('\n').filter((line) => line.trim() !== '');
  }

  /**
   * Waits until every long-running container is healthy (or running, when it has no healthcheck)
   * and every one-shot container exited 0; rejects at once when a container exited non-zero, and
   * after `timeoutMs` naming what was not ready.
   */
  async waitUntilReady(timeoutMs = 240_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await this.states();
      const failed = states.filter((s) => s.status === 'exited' && s.exitCode !== 0);
      if (failed.length > 0) {
        const logs = await Promise.all(failed.map(async (s) => `${s.name}:\n${(await docker(['logs', '--tail', '20', s.name]).catch((e: Error) => e.message)).trim()}`));
        throw new Error(`containers exited with an error: ${failed.map((s) => `${s.name} (${s.exitCode})`).join(', ')}\n${logs.join('\n')}`);
      }
      const waiting = states.filter((s) => !(s.status === 'exited' ? s.exitCode === 0 : s.status === 'running' && (s.health === undefined || s.health === 'healthy')));
      if (states.length > 0 && waiting.length === 0) return;
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${waiting.map((s) => `${s.name} ${s.status}${s.health === undefined ? '' : `/${s.health}`}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async states(): Promise<{ name: string; status: string; exitCode: number; health: string | undefined }[]> {
    const ids = await this.containerIds();
    if (ids.length === 0) return [];
    const format = '{{.Name}}|{{.State.Status}}|{{.State.ExitCode}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}';
    const out = await docker(['inspect', '--format', format, ...ids]);
    return out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [name, status, exitCode, health] = line.split('|');
        return { name: name!.replace(/^\//, ''), status: status!, exitCode: Number(exitCode), health: health === '' ? undefined : health };
      });
  }

  /** The last log lines of one service. */
  async logs(service: string): Promise<string> {
    return this.compose(['logs', '--no-color', service]);
  }

  /** `down -v --remove-orphans`: containers, networks and volumes of the project. */
  async down(): Promise<void> {
    await this.compose(['down', '-v', '--remove-orphans', '--timeout', '20']);
  }

  /** Whatever of this project still exists, by compose's project label. */
  async leftovers(): Promise<Leftovers> {
    const label = `label=com.docker.compose.project=${this.options.name}`;
    const list = async (args: string[]) => (await docker(args)).split('\n').filter((line) => line !== '');
    return {
      containers: await list(['ps', '-aq', '--filter', label]),
      networks: await list(['network', 'ls', '-q', '--filter', label]),
      volumes: await list(['volume', 'ls', '-q', '--filter', label]),
    };
  }

  /** The host port a service's container port is published on (127.0.0.1 in the project's files). */
  async publishedPort(service: string, containerPort: number): Promise<number> {
    const out = (await this.compose(['port', service, String(containerPort)])).trim();
    const port = Number(out.split(':').at(-1));
    if (!Number.isInteger(port) || port <= 0) throw new Error(`${service}:${containerPort} is not published (${out})`);
    return port;
  }
}

export async function docker(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Why the container tier cannot run here, or undefined when a Docker engine and docker-compose answer. */
export function containerTierUnavailable(): string | undefined {
  if (spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) return 'no Docker engine answers (install docker.io and start dockerd)';
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) return 'docker-compose is not installed (Debian: apt-get install docker-compose)';
  return undefined;
}
