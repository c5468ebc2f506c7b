import { createConnection } from 'mysql2/promise';
import { ContainerService, type ContainerServiceOptions } from '../docker/container-service.ts';
import { type ContainerSpec, removeContainers, removeNetworks, removeVolumes } from '../docker/containers.ts';
import { scenarioLabels } from '../docker/scenario-labels.ts';
import { redisPing } from '../processes/redis-server.ts';
import { makeTempDir } from '../processes/temp-dir.ts';

/** The images a system in containers runs, tagged as the compose files name them (docker/build-images.sh). */
export const SYSTEM_IMAGES = {
  backend: 'iot-stack/backend:local',
  simulator: 'iot-stack/simulator:local',
  device: 'iot-stack/device:local',
  deviceRedis: 'iot-stack/device-redis:local',
  mariadb: 'mariadb:10.11',
} as const;

/**
 * One system's share of a container run: the names it gives its containers and networks (all
 * prefixed, so systems of one run never collide), the label they carry, and every container it
 * made, for the error guard and the teardown.
 */
export class ContainerScope {
  readonly runId: string;
  readonly prefix: string;
  readonly labels: Record<string, string>;
  readonly services: ContainerService[] = [];
  readonly networks: string[] = [];
  readonly volumes: string[] = [];
  /** Host directory of this system: the broker's credential file, each device Redis's data. */
  readonly dir: string;
  private readonly removeDir: () => void;

  constructor(runId: string, prefix: string) {
    this.runId = runId;
    this.prefix = prefix;
    this.labels = scenarioLabels(runId);
    const dir = makeTempDir('containers');
    this.dir = dir.path;
    this.removeDir = dir.remove;
  }

  /** `<prefix>-<name>`, e.g. `s1abc-3-dev-1-redis`. */
  name(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** A container of this system (created on its first start), named `<prefix>-<name>`. */
  service(name: string, spec: Omit<ContainerSpec, 'name' | 'labels'>, options: ContainerServiceOptions = {}): ContainerService {
    const service = new ContainerService(name, { ...spec, name: this.name(name), labels: { ...this.labels, 'org.iot-stack.service': name } }, options);
    this.services.push(service);
    return service;
  }

  /** Removes every container, network and volume of this scope, then its host directory. */
  async dispose(): Promise<void> {
    await Promise.all(this.services.map((s) => s.closeLog()));
    await removeContainers(this.services.filter((s) => s.created).map((s) => s.id));
    await Promise.all([removeNetworks(this.networks), removeVolumes(this.volumes)]);
    this.removeDir();
  }
}

/**
 * The host's uid:gid, for containers that write into or read from a bind-mounted host directory:
 * files stay the caller's (readable for the AOF tracker, removable by the teardown) and a 0600
 * credential file in a 0700 temp dir stays readable without loosening its modes.
 */
export function hostUser(): string | undefined {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  return uid === undefined || gid === undefined ? undefined : `${uid}:${gid}`;
}

/** Polls `probe` until it resolves true; fails early, with the container's output, if the container stops. */
async function until(service: ContainerService, probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (!service.running) throw new Error(`${service.name} stopped before ${what}\n${service.tail(40)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${service.tail(40)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Redis answers PONG on its published port (not -LOADING while it replays the AOF). */
export function waitForRedis(service: ContainerService, port: number, timeoutMs = 30_000): Promise<void> {
  return until(service, () => redisPing('127.0.0.1', port), timeoutMs, `Redis on 127.0.0.1:${port} to answer PONG`);
}

/** MariaDB answers a query on its published port: the same way in as the checker's handle. */
export function waitForMariaDb(service: ContainerService, options: { port: number; password: string; database: string }, timeoutMs = 90_000): Promise<void> {
  const probe = async () => {
    try {
      const connection = await createConnection({ host: '127.0.0.1', port: options.port, user: 'root', password: options.password, database: options.database, connectTimeout: 2000 });
      try {
        await connection.query('SELECT 1');
        return true;
      } finally {
        await connection.end().catch(() => {});
      }
    } catch {
      return false;
    }
  };
  return until(service, probe, timeoutMs, `MariaDB on 127.0.0.1:${options.port} to answer`);
}
