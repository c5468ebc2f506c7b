import { mkdirSync, writeFileSync } from 'node:fs';
import type { Database } from '@iot/backend/db';
import { setWorldConstructor, World, type IWorldOptions } from '@cucumber/cucumber';
import type { DeliveryReport } from '@iot/harness/checker';
import type { AofSizeTracker } from '@iot/harness/faults';
import {
  type BackendUnderTest,
  checkSystem,
  ContainerSystem,
  type DeviceLink,
  type DeviceUnderTest,
  ProcessSystem,
  type RunningService,
  type SystemOptions,
  type SystemUnderTest,
} from '@iot/harness';
import { CONTAINER_RUN_ID, prepareContainerRun } from './container-run.ts';

export type { SystemOptions } from '@iot/harness';

/** Where a scenario's system runs: OS processes on loopback, or containers on the Docker engine. */
export type SystemBackend = 'processes' | 'containers';

const NO_DEVICES: ReadonlyMap<string, DeviceUnderTest> = new Map();

/**
 * One scenario's whole system, on processes (ProcessSystem: backend processes, simulated devices
 * each behind a TCP proxy the scenario can partition) or on containers (ContainerSystem), and what
 * the scenario expects to go wrong. The steps see only the harness's interfaces, so they run on
 * either. Everything it starts is torn down in the After hook, pass or fail.
 */
export class SystemWorld extends World {
  system: SystemUnderTest | undefined;
  report: DeliveryReport | undefined;
  /** Watches a device's AOF from "the power of device ... can be cut" on, for the power cut. */
  powerTracker: AofSizeTracker | undefined;
  /** Error events the scenario caused on purpose; any other error log fails the scenario. */
  readonly expectedErrors = new Set<string>();
  /** Facts for the scenario's report file. */
  readonly facts: Record<string, unknown> = {};
  readonly startedAt = Date.now();
  private database: Database | undefined;

  constructor(options: IWorldOptions) {
    super(options);
  }

  async startSystem(options: SystemOptions, on: SystemBackend = 'processes'): Promise<void> {
    if (this.system !== undefined) throw new Error('this scenario already started a system');
    const started = Date.now();
    if (on === 'containers') {
      await prepareContainerRun();
      this.system = await ContainerSystem.start({ ...options, runId: CONTAINER_RUN_ID });
    } else {
      this.system = await ProcessSystem.start(options);
    }
    this.facts.system = { ...options, backend: on, deviceIds: [...this.system.devices.keys()], startSeconds: (Date.now() - started) / 1000 };
  }

  get backend(): BackendUnderTest {
    if (this.system === undefined) throw new Error('no system started: begin the scenario with "Given a system with ..."');
    return this.system.backend;
  }

  get devices(): ReadonlyMap<string, DeviceUnderTest> {
    return this.system?.devices ?? NO_DEVICES;
  }

  device(id: string): DeviceUnderTest {
    const device = this.devices.get(id);
    if (device === undefined) throw new Error(`no device "${id}"; this scenario has ${[...this.devices.keys()].join(', ')}`);
    return device;
  }

  /** The network between device `id` and the broker. */
  deviceLink(id: string): DeviceLink {
    const link = this.system?.links.get(id);
    if (link === undefined) throw new Error(`no network link for device "${id}"`);
    return link;
  }

  async db(): Promise<Database> {
    this.database ??= await this.backend.database();
    return this.database;
  }

  /** Every service of the scenario, for the unchecked-error guard. */
  processes(): RunningService[] {
    return this.system?.services() ?? [];
  }

  async check(): Promise<DeliveryReport> {
    this.report = await checkSystem(await this.db(), [...this.devices.values()]);
    return this.report;
  }

  writeReport(name: string, status: string): string {
    mkdirSync('reports/scenarios', { recursive: true });
    const file = `reports/scenarios/${name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase()}.json`;
    writeFileSync(file, `${JSON.stringify({ scenario: name, status, wallSeconds: (Date.now() - this.startedAt) / 1000, delivery: this.report, ...this.facts }, null, 2)}\n`);
    return file;
  }

  async teardown(): Promise<void> {
    await this.powerTracker?.stop();
    await this.database?.close().catch(() => {});
    await this.system?.dispose();
  }
}

setWorldConstructor(SystemWorld);
