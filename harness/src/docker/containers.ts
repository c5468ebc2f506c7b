import { docker, dockerIgnoringMissing } from './docker-cli.ts';

/** A network the container joins, and the names it answers to there (besides its own). */
export interface NetworkAttachment {
  network: string;
  aliases?: readonly string[];
}

export interface Mount {
  /** A host path (`bind`) or a volume name (`volume`). */
  source: string;
  target: string;
  type?: 'bind' | 'volume';
  readOnly?: boolean;
}

export interface ContainerSpec {
  /** The container's name, unique on the engine. */
  name: string;
  image: string;
  /** Replaces the image's CMD; the image's when omitted. */
  command?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** The first is joined at creation, the others before the start. None: the default bridge. */
  networks?: readonly NetworkAttachment[];
  /**
   * Container ports published on the host's 127.0.0.1 only, on the given host port. There is no
   * way to publish on another address: a system under test must not be reachable from the network.
   */
  publish?: readonly { containerPort: number; hostPort: number }[];
  mounts?: readonly Mount[];
  labels?: Readonly<Record<string, string>>;
  /** `uid:gid`; the image's user when omitted. */
  user?: string;
}

/** The `docker create` arguments for `spec`. */
export function createArgs(spec: ContainerSpec): string[] {
  const args = ['create', '--name', spec.name];
  for (const [name, value] of Object.entries(spec.labels ?? {})) args.push('--label', `${name}=${value}`);
  for (const [name, value] of Object.entries(spec.env ?? {})) args.push('--env', `${name}=${value}`);
  for (const { containerPort, hostPort } of spec.publish ?? []) {
    if (!Number.isInteger(hostPort) || hostPort < 1 || hostPort > 65_535) throw new RangeError(`${spec.name}: host port ${hostPort} is not a TCP port`);
    args.push('--publish', `127.0.0.1:${hostPort}:${containerPort}`);
  }
  for (const mount of spec.mounts ?? []) {
    if (/[,=]/.test(mount.source) || /[,=]/.test(mount.target)) throw new Error(`${spec.name}: mount paths may not contain "," or "=": ${mount.source} -> ${mount.target}`);
    args.push('--mount', `type=${mount.type ?? 'bind'},source=${mount.source},target=${mount.target}${mount.readOnly === true ? ',readonly' : ''}`);
  }
  if (spec.user !== undefined) args.push('--user', spec.user);
  const [first] = spec.networks ?? [];
  if (first !== undefined) {
    args.push('--network', first.network);
    for (const alias of first.aliases ?? []) args.push('--network-alias', alias);
  }
  args.push(spec.image, ...(spec.command ?? []));
  return args;
}

/**
 * Creates the container (not started) and attaches it to all its networks. An engine before API
 * 1.44 takes one network at creation, so the others are connected to the created container.
 * @returns the container's id
 */
export async function createContainer(spec: ContainerSpec): Promise<string> {
  const id = await docker(createArgs(spec));
  for (const attachment of (spec.networks ?? []).slice(1)) await connectNetwork(attachment, id);
  return id;
}

export async function startContainer(id: string): Promise<void> {
  await docker(['start', id]);
}

/** `docker kill`: SIGKILL (or `signal`), no chance to clean up. Killing a stopped container is not an error. */
export async function killContainers(ids: readonly string[], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (ids.length === 0) return;
  try {
    await docker(['kill', '--signal', signal, ...ids]);
  } catch (error) {
    // Some were not running: kill the rest one by one, so one stopped container spoils nothing.
    if (ids.length === 1) {
      if (!(await isRunning(ids[0]!))) return;
      throw error;
    }
    await Promise.all(ids.map((id) => killContainers([id], signal)));
  }
}

let pendingKills: { ids: string[]; done: Promise<void> } | undefined;

/**
 * SIGKILL, batched: every container asked for in the same turn of the event loop is killed by one
 * `docker kill`, so the kills of a power cut (the device's Redis and its services, each asked for
 * by its own handle in one `Promise.all`) land together rather than one process spawn apart.
 */
export function killTogether(id: string): Promise<void> {
  if (pendingKills === undefined) {
    const batch = { ids: [id], done: Promise.resolve() };
    batch.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      if (pendingKills === batch) pendingKills = undefined;
      return killContainers(batch.ids);
    });
    pendingKills = batch;
  } else {
    pendingKills.ids.push(id);
  }
  return pendingKills.done;
}

/** SIGTERM, then SIGKILL after `timeoutSeconds`: a clean stop the service may finish in time. */
export async function stopContainer(id: string, timeoutSeconds = 10): Promise<void> {
  await docker(['stop', '--time', String(timeoutSeconds), id], { timeoutMs: (timeoutSeconds + 30) * 1000 });
}

/** Freezes every process of the container (cgroup freezer): sockets stay open, nothing answers. */
export async function pauseContainer(id: string): Promise<void> {
  await docker(['pause', id]);
}

export async function unpauseContainer(id: string): Promise<void> {
  await docker(['unpause', id]);
}

/** Force-removes containers with their anonymous volumes; gone ones are fine. */
export async function removeContainers(ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await dockerIgnoringMissing(['rm', '--force', '--volumes', ...ids]);
}

export async function isRunning(id: string): Promise<boolean> {
  const state = await dockerIgnoringMissing(['inspect', '--format', '{{.State.Running}}', id]);
  return state === 'true';
}

/** Runs `command` inside the running container; resolves with its stdout, rejects on a non-zero exit. */
export function execInContainer(id: string, command: readonly string[], timeoutMs = 30_000): Promise<string> {
  return docker(['exec', id, ...command], { timeoutMs });
}

export async function createNetwork(name: string, labels: Readonly<Record<string, string>>): Promise<string> {
  const args = ['network', 'create'];
  for (const [label, value] of Object.entries(labels)) args.push('--label', `${label}=${value}`);
  return docker([...args, name]);
}

export async function removeNetworks(names: readonly string[]): Promise<void> {
  if (names.length > 0) await dockerIgnoringMissing(['network', 'rm', ...names]);
}

export async function connectNetwork(attachment: NetworkAttachment, container: string): Promise<void> {
  const args = ['network', 'connect'];
  for (const alias of attachment.aliases ?? []) args.push('--alias', alias);
  await docker([...args, attachment.network, container]);
}

/** Takes the container off the network at once, open connections and all (as a pulled cable). */
export async function disconnectNetwork(network: string, container: string): Promise<void> {
  await docker(['network', 'disconnect', '--force', network, container]);
}

export async function createVolume(name: string, labels: Readonly<Record<string, string>>): Promise<string> {
  const args = ['volume', 'create'];
  for (const [label, value] of Object.entries(labels)) args.push('--label', `${label}=${value}`);
  return docker([...args, name]);
}

export async function removeVolumes(names: readonly string[]): Promise<void> {
  if (names.length > 0) await dockerIgnoringMissing(['volume', 'rm', '--force', ...names]);
}
