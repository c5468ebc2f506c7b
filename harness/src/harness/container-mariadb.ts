import { randomBytes } from 'node:crypto';
import { docker } from '../docker/docker-cli.ts';
import { createVolume, removeContainers } from '../docker/containers.ts';
import type { ContainerService } from '../docker/container-service.ts';
import { type ContainerScope, SYSTEM_IMAGES, waitForMariaDb } from './container-scope.ts';

/** The database the receiver migrates and the checker reads. */
const DATABASE = 'iot';
const DATA = '/var/lib/mysql';

interface Template {
  volume: string;
  rootPassword: string;
}

/** One initialised datadir per run, copied for each system: the image's first start takes seconds, a copy does not. */
const templates = new Map<string, Promise<Template>>();

/**
 * A datadir the image's own entrypoint initialised (root password, database `iot`), in a volume
 * of this run, made once and cleanly shut down so InnoDB needs no recovery when a copy starts.
 */
function template(scope: ContainerScope): Promise<Template> {
  let made = templates.get(scope.runId);
  if (made === undefined) {
    made = makeTemplate(scope);
    templates.set(scope.runId, made);
    made.catch(() => templates.delete(scope.runId));
  }
  return made;
}

async function makeTemplate(scope: ContainerScope): Promise<Template> {
  const rootPassword = randomBytes(18).toString('base64url');
  const volume = `${scope.runId}-mariadb-template`;
  await createVolume(volume, scope.labels);
  const name = `${scope.runId}-mariadb-template-init`;
  try {
    await docker([
      'run', '--detach', '--name', name, ...labelArgs(scope.labels),
      '--env', `MARIADB_ROOT_PASSWORD=${rootPassword}`, '--env', `MARIADB_DATABASE=${DATABASE}`,
      '--mount', `type=volume,source=${volume},target=${DATA}`,
      SYSTEM_IMAGES.mariadb, ...serverArgs(),
    ]);
    // The entrypoint serves only once it has initialised; healthcheck.sh is the image's own verdict.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const healthy = await docker(['exec', name, 'healthcheck.sh', '--connect', '--innodb_initialized']).then(() => true, () => false);
      if (healthy) break;
      const running = (await docker(['inspect', '--format', '{{.State.Running}}', name])) === 'true';
      if (!running || Date.now() > deadline) {
        const logs = await docker(['logs', '--tail', '40', name]).catch((error: unknown) => String(error));
        throw new Error(`the MariaDB template container ${running ? 'did not become healthy in 120 s' : 'exited'}\n${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await docker(['stop', '--time', '30', name], { timeoutMs: 60_000 });
  } finally {
    await removeContainers([name]);
  }
  return { volume, rootPassword };
}

export interface MariaDbContainer {
  service: ContainerService;
  /** For services on the backend network. */
  networkUrl: string;
  /** For the host (the checker's handle), through the port published on 127.0.0.1. */
  hostUrl: string;
}

/**
 * MariaDB for one system: a copy of the run's template in a volume of its own (so a kill and a
 * start find the data again), `mariadb` on the backend network, its port published on 127.0.0.1.
 */
export async function mariaDbContainer(scope: ContainerScope, network: string, hostPort: number): Promise<MariaDbContainer> {
  const { volume: source, rootPassword } = await template(scope);
  const volume = scope.name('mariadb');
  await createVolume(volume, scope.labels);
  scope.volumes.push(volume);
  await docker(
    ['run', '--rm', ...labelArgs(scope.labels), '--mount', `type=volume,source=${source},target=/from,readonly`, '--mount', `type=volume,source=${volume},target=/to`, '--entrypoint', 'cp', SYSTEM_IMAGES.mariadb, '-a', '/from/.', '/to/'],
    { timeoutMs: 120_000 },
  );
  const service = scope.service(
    'mariadb',
    {
      image: SYSTEM_IMAGES.mariadb,
      command: serverArgs(),
      networks: [{ network, aliases: ['mariadb'] }],
      publish: [{ containerPort: 3306, hostPort }],
      mounts: [{ type: 'volume', source: volume, target: DATA }],
    },
    { ready: (s) => waitForMariaDb(s, { port: hostPort, password: rootPassword, database: DATABASE }) },
  );
  return {
    service,
    networkUrl: `mariadb://root:${rootPassword}@mariadb:3306/${DATABASE}`,
    hostUrl: `mariadb://root:${rootPassword}@127.0.0.1:${hostPort}/${DATABASE}`,
  };
}

/** As docker-compose.yml runs it. */
function serverArgs(): string[] {
  return ['mariadbd', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci'];
}

function labelArgs(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).flatMap(([name, value]) => ['--label', `${name}=${value}`]);
}
