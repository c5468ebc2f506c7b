import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import type { ContainerRuntimeClient, GenericContainer, WaitStrategy } from 'testcontainers';
import { type ExitInfo, RunOutput, type ServerRun } from '../processes/server-run.ts';
import { containerLabels, track, untrack } from './cleanup.ts';
import { engine } from './engine.ts';

type DockerContainer = ReturnType<ContainerRuntimeClient['container']['getById']>;

/** How long the last output lines may take to arrive after the container exited. */
const LOG_DRAIN_MS = 5_000;

export interface ContainerSpec {
  /** Short name used in errors, e.g. `redis-server:41234`. */
  name: string;
  /** e.g. `redis:7-bookworm`. */
  image: string;
  /** `service` label value, e.g. `redis`. */
  service: string;
  command: readonly string[];
  /** Replaces the image's entrypoint, e.g. for a one-off initialisation. */
  entrypoint?: readonly string[];
  env?: Readonly<Record<string, string>>;
  binds?: readonly { source: string; target: string; readOnly?: boolean }[];
  /** The port the server listens on inside the container, published on 127.0.0.1 only on `hostPort`. */
  publish?: { containerPort: number; hostPort: number };
  /** The container's stdout and stderr are appended here as well. */
  logFile?: string;
}

/**
 * A server run as a container, with the surface of a ManagedProcess: output lines, exit, stop,
 * kill, freeze. Like a spawned process it starts in the background; a failed start shows as an
 * exit with the reason in its output. Each run is a new container, removed (with its anonymous
 * volumes) as soon as it has exited: data that must survive a crash lives in a bind mount.
 */
export class ContainerProcess extends RunOutput implements ServerRun {
  private container: DockerContainer | undefined;
  /** Set once the engine has started the container (created is not enough to signal it). */
  private started = false;
  private hostPid: number | undefined;
  /** A stop asked for before the container existed, applied once it does. */
  private pendingStop: { signal: NodeJS.Signals; timeoutMs: number } | undefined;
  private frozenBy: 'signal' | 'pause' | undefined;
  private markStarted!: () => void;
  /**
   * Resolves once the container runs (its port is published), or once the attempt failed. Probing
   * the port before would risk meeting whoever holds it while the engine refuses the binding.
   */
  readonly launched: Promise<void>;

  constructor(spec: ContainerSpec) {
    super(spec.name, spec.logFile);
    const started = new Promise<void>((resolve) => {
      this.markStarted = resolve;
    });
    this.launched = Promise.race([started, this.exited.then(() => undefined)]);
    void this.run(spec);
  }

  /** The server's process id on this host (the container's first process), once started. */
  get pid(): number | undefined {
    return this.hostPid;
  }

  get containerId(): string | undefined {
    return this.container?.id;
  }

  /** Sends `signal` (docker kill) and waits for the exit and removal; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    if (!this.started) this.pendingStop ??= { signal, timeoutMs };
    else await this.send(signal, timeoutMs);
    return this.exited;
  }

  /** `docker kill`: SIGKILL, as in a crash. */
  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL');
  }

  /**
   * SIGSTOP to the server's process, as for a local process: synchronous, so what the caller
   * sends next meets a frozen server. An engine whose processes this host cannot see (a VM, a
   * remote engine) is paused with `docker pause` instead.
   */
  freeze(): void {
    const { container, hostPid } = this;
    if (!this.running) return;
    if (container === undefined || hostPid === undefined) throw new Error(`${this.name} has not started yet; nothing to freeze`);
    if (visibleHere(hostPid, container.id)) {
      process.kill(hostPid, 'SIGSTOP');
      this.frozenBy = 'signal';
    } else {
      dockerCli(['pause', container.id]);
      this.frozenBy = 'pause';
    }
  }

  /** SIGCONT (or `docker unpause`) after {@link freeze}; harmless when not frozen. */
  thaw(): void {
    const { container, hostPid } = this;
    if (container === undefined || hostPid === undefined || !this.running) return;
    if (this.frozenBy === 'pause') dockerCli(['unpause', container.id]);
    else if (visibleHere(hostPid, container.id)) process.kill(hostPid, 'SIGCONT');
    this.frozenBy = undefined;
  }

  private async run(spec: ContainerSpec): Promise<void> {
    let info: ExitInfo = { code: -1, signal: null };
    try {
      info = await this.startAndWait(spec);
    } catch (error) {
      this.addLine(`container failed: ${error instanceof Error ? error.message : String(error)}`, 'stderr');
    }
    if (this.container !== undefined) {
      try {
        await this.container.remove({ force: true, v: true });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) this.addLine(`removing the container failed: ${String(error)}`, 'stderr');
      }
      untrack(this.container.id);
    }
    this.endLog();
    this.finished(info);
  }

  private async startAndWait(spec: ContainerSpec): Promise<ExitInfo> {
    const client = await engine();
    const { GenericContainer } = await import('testcontainers');
    const created = (id: string) => {
      // Tracked from creation: a start that fails after it (say, the host port got taken) leaves it.
      track(id);
      this.container = client.container.getById(id);
    };
    const container = new (loopbackContainer(GenericContainer, created))(spec.image)
      .withCommand([...spec.command])
      .withEnvironment({ ...spec.env })
      .withLabels(containerLabels(spec.service))
      .withBindMounts((spec.binds ?? []).map((b) => ({ source: b.source, target: b.target, mode: b.readOnly === true ? 'ro' : 'rw' })))
      // Not Ryuk (unavailable offline, cleanup.ts instead), and removed by us after its exit.
      .withAutoCleanup(false)
      .withAutoRemove(false)
      // Readiness is the server's own probe (PING, SELECT 1, a log line), as for a process.
      .withWaitStrategy(startedOnly());
    // The caller's uid: files the server writes into bind-mounted temp dirs stay removable by
    // the caller. Images that start as root (uid 0) drop to their service user, as they do anyway.
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    if (uid !== undefined && gid !== undefined) container.withUser(`${uid}:${gid}`);
    if (spec.entrypoint !== undefined) container.withEntrypoint([...spec.entrypoint]);
    if (spec.publish !== undefined) container.publishOnLoopback(spec.publish.containerPort, spec.publish.hostPort);

    await container.start();
    this.started = true;
    this.markStarted();
    const docker = this.container!;
    this.hostPid = (await docker.inspect()).State.Pid || undefined;
    if (this.pendingStop !== undefined) await this.send(this.pendingStop.signal, this.pendingStop.timeoutMs);
    const logs = await this.follow(client, docker);
    const status = (await docker.wait()) as { StatusCode?: number };
    // The log stream ends once the engine has sent the last lines; should it not (a busy engine
    // has been seen to keep a follow open), the exit must not wait for it forever.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([logs.done, new Promise((resolve) => (grace = setTimeout(resolve, LOG_DRAIN_MS)))]);
    clearTimeout(grace);
    logs.stream.destroy();
    return exitInfo(status.StatusCode ?? -1);
  }

  /** Streams the container's stdout and stderr into the output lines until it stops. */
  private async follow(client: ContainerRuntimeClient, docker: DockerContainer): Promise<{ stream: NodeJS.ReadableStream & { destroy(): void }; done: Promise<void> }> {
    const stream = (await docker.logs({ follow: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & { destroy(): void };
    const out = new PassThrough();
    const err = new PassThrough();
    client.container.dockerode.modem.demuxStream(stream, out, err);
    const lines = (from: PassThrough, kind: 'stdout' | 'stderr') =>
      new Promise<void>((resolve) => {
        const reader = createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY });
        reader.on('line', (line) => this.addLine(line, kind));
        reader.once('close', resolve);
      });
    stream.once('end', () => {
      out.end();
      err.end();
    });
    stream.once('error', () => {
      out.end();
      err.end();
    });
    stream.once('close', () => {
      out.end();
      err.end();
    });
    return { stream, done: Promise.all([lines(out, 'stdout'), lines(err, 'stderr')]).then(() => undefined) };
  }

  private async send(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const docker = this.container!;
    const kill = (s: NodeJS.Signals) =>
      docker.kill({ signal: s }).catch((error: { statusCode?: number }) => {
        // 404: already removed; 409: not running. Both mean it is stopping or gone.
        if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
      });
    // A frozen process takes no signal but SIGKILL; thaw it so a clean stop can happen.
    if (signal !== 'SIGKILL' && this.frozenBy !== undefined) this.thaw();
    await kill(signal);
    if (signal === 'SIGKILL') return;
    const timer = setTimeout(() => void kill('SIGKILL').catch(() => undefined), timeoutMs);
    void this.exited.finally(() => clearTimeout(timer));
  }
}

/**
 * GenericContainer publishes ports on every interface; this one publishes on 127.0.0.1 only,
 * never 0.0.0.0 (a test server must not be reachable from the network), and reports the
 * container's id as soon as it is created. Built on the class loaded lazily from testcontainers.
 */
function loopbackContainer(Base: typeof GenericContainer, created: (id: string) => void) {
  return class LoopbackContainer extends Base {
    publishOnLoopback(containerPort: number, hostPort: number): this {
      this.withExposedPorts({ container: containerPort, host: hostPort });
      this.hostConfig.PortBindings = { ...this.hostConfig.PortBindings, [`${containerPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] };
      return this;
    }

    protected override async containerCreated(containerId: string): Promise<void> {
      created(containerId);
    }
  };
}

/** A wait strategy that is satisfied once the container runs. */
function startedOnly(): WaitStrategy {
  let timeout = 60_000;
  const strategy: WaitStrategy = {
    waitUntilReady: async () => {},
    withStartupTimeout: (ms: number) => {
      timeout = ms;
      return strategy;
    },
    isStartupTimeoutSet: () => false,
    getStartupTimeout: () => timeout,
  };
  return strategy;
}

/** Docker reports death by signal N as exit code 128 + N, as a shell does. */
function exitInfo(statusCode: number): ExitInfo {
  if (statusCode > 128) {
    const name = Object.entries(constants.signals).find(([, number]) => number === statusCode - 128)?.[0];
    if (name !== undefined) return { code: null, signal: name as NodeJS.Signals };
  }
  return { code: statusCode, signal: null };
}

/** Whether `pid` on this host is the container's process (a local engine shares the host's pids). */
function visibleHere(pid: number, containerId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(containerId);
  } catch {
    return false;
  }
}

function dockerCli(args: string[]): void {
  const result = spawnSync('docker', args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (${result.error?.message ?? result.stderr.trim()}); freezing a container whose processes this host cannot see needs the docker CLI`);
  }
}
