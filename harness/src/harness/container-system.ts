import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerService } from '../docker/container-service.ts';
import { connectNetwork, createNetwork, disconnectNetwork } from '../docker/containers.ts';
import { findFreePort } from '../processes/free-port.ts';
import { ContainerBackend } from './container-backend.ts';
import { ContainerDevice } from './container-device.ts';
import { ContainerScope, SYSTEM_IMAGES } from './container-scope.ts';
import type { DeviceLink, SystemOptions, SystemUnderTest } from './under-test.ts';

/** Systems started by this process, numbered so each one's names differ within a run. */
let systemsStarted = 0;

export interface ContainerSystemOptions extends SystemOptions {
  /** The run's id: the value of every object's scenario label and the prefix of its names. */
  runId: string;
}

/**
 * A device's uplink container on the backend network, as a fault sees it: a partition takes the
 * container off the network (`docker network disconnect`, its connections die unanswered), healing
 * puts it back. The device's Redis and the simulator stay reachable, as on a Pi whose uplink lost
 * the Internet.
 */
class ContainerLink implements DeviceLink {
  private readonly network: string;
  private readonly uplink: ContainerService;

  constructor(network: string, uplink: ContainerService) {
    this.network = network;
    this.uplink = uplink;
  }

  partition(): Promise<void> {
    return disconnectNetwork(this.network, this.uplink.id);
  }

  heal(): Promise<void> {
    return connectNetwork({ network: this.network }, this.uplink.id);
  }

  setLatency(): void {
    throw new Error('latency is not available on containers (it needs tc/netem in the containers); run this scenario on processes');
  }
}

/**
 * A whole system in containers, laid out as docker-compose.sim.yml does: the backend (broker,
 * receivers, MariaDB) on a `backend` network, one simulator container on a `hardware` network
 * holding every device's simulated chips, and per device a network of its own with its Redis and
 * its sensor and uplink containers (HARDWARE=remote). Everything carries the run's scenario label
 * and goes with {@link dispose}, pass or fail.
 */
export class ContainerSystem implements SystemUnderTest {
  readonly backend: ContainerBackend;
  readonly devices = new Map<string, ContainerDevice>();
  readonly links = new Map<string, ContainerLink>();
  readonly simulator: ContainerService;
  /** The simulator's HTTP control API on 127.0.0.1 (docs/hardware-contracts.md §14). */
  readonly simulatorControlUrl: string;
  private readonly scope: ContainerScope;

  private constructor(scope: ContainerScope, backend: ContainerBackend, controlPort: number, hardwareNetwork: string) {
    this.scope = scope;
    this.backend = backend;
    this.simulatorControlUrl = `http://127.0.0.1:${controlPort}`;
    this.simulator = scope.service(
      'simulator',
      {
        image: SYSTEM_IMAGES.simulator,
        env: { SIM_CHIPS: 'bme280@0x76,sht31@0x44' },
        networks: [{ network: hardwareNetwork, aliases: ['simulator'] }],
        publish: [{ containerPort: 7301, hostPort: controlPort }],
      },
      { ready: (s, since) => s.waitForLog((r) => r.event === 'simulator_ready', 30_000, 'the simulator_ready log line', since).then(() => {}) },
    );
  }

  static async start(options: ContainerSystemOptions): Promise<ContainerSystem> {
    if (options.broker !== 'aedes') throw new Error(`a system in containers runs the backend's aedes broker only, not ${options.broker}`);
    if (options.withButton === true) throw new Error('a system in containers has no start/stop button containers; run this scenario on processes');
    systemsStarted++;
    const scope = new ContainerScope(options.runId, `${options.runId}-${systemsStarted}`);
    const networks = { backend: scope.name('backend'), hardware: scope.name('hardware') };
    const ids = Array.from({ length: options.devices }, (_, i) => `dev-${i + 1}`);
    let system: ContainerSystem | undefined;
    try {
      await Promise.all([networks.backend, networks.hardware, ...ids.map((id) => scope.name(id))].map((name) => addNetwork(scope, name)));
      const configDir = join(scope.dir, 'config');
      mkdirSync(configDir);
      const backend = await ContainerBackend.create(scope, { network: networks.backend, configDir, logins: [...ids, ...(options.provisionedOnly ?? [])] });
      system = new ContainerSystem(scope, backend, await findFreePort(), networks.hardware);
      await system.run(ids, networks, options);
      return system;
    } catch (error) {
      if (system !== undefined) await system.dispose();
      else await scope.dispose();
      throw error;
    }
  }

  services(): ContainerService[] {
    return [...this.scope.services];
  }

  /** Removes every container, network and volume of this system, and its host directories. */
  async dispose(): Promise<void> {
    await this.backend.close();
    await this.scope.dispose();
  }

  private async run(ids: readonly string[], networks: { backend: string; hardware: string }, options: SystemOptions): Promise<void> {
    for (const id of ids) {
      const redisDir = join(this.scope.dir, `${id}-redis`);
      mkdirSync(redisDir);
      const device = await ContainerDevice.create(this.scope, {
        id,
        login: this.backend.login(id),
        intervalSeconds: options.intervalSeconds,
        redisDir,
        networks: { device: this.scope.name(id), ...networks },
        uplinkEnv: { MQTT_KEEPALIVE_SECONDS: '5', ...options.uplinkEnv },
      });
      this.devices.set(id, device);
      this.links.set(id, new ContainerLink(networks.backend, device.uplink));
    }
    const devices = [...this.devices.values()];
    // Everything that waits on nothing starts at once. Device services start once their Redis
    // serves (without it they log errors); they wait for the simulator and the broker themselves,
    // logging that at info and warn level. Receivers start once MariaDB and the broker serve.
    const broker = this.backend.startBroker();
    const simulator = this.simulator.start();
    const database = this.backend.startDatabase();
    const deviceServices = devices.map(async (device) => {
      await device.prepare();
      await device.redis.start();
      await device.startServices();
    });
    const receivers = (async () => {
      await Promise.all([database, broker]);
      for (let i = 0; i < (options.receivers ?? 1); i++) {
        await this.backend.startReceiver({ ...(options.sharedGroup === undefined ? {} : { group: options.sharedGroup }), env: { LOG_LEVEL: 'debug' } });
      }
    })();
    await settleAll([broker, simulator, database, receivers, ...deviceServices]);
  }
}

async function addNetwork(scope: ContainerScope, name: string): Promise<void> {
  await createNetwork(name, scope.labels);
  scope.networks.push(name);
}

/** Waits for every promise, then throws the first failure: nothing is left starting behind a teardown. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
