import { mkdirSync, writeFileSync } from 'node:fs';
import type { Database } from '@iot/backend/db';
import { setWorldConstructor, World, type IWorldOptions } from '@cucumber/cucumber';
import type { DeliveryReport } from '@iot/harness/checker';
import { type AofSizeTracker, TcpProxy } from '@iot/harness/faults';
import { BackendStack, type BrokerKind, checkSystem, SimulatedDevice } from '@iot/harness';
import { makeTempDir, type ServiceProcess } from '@iot/harness/processes';

export interface SystemOptions {
  broker: BrokerKind;
  devices: number;
  intervalSeconds: number;
  receivers?: number;
  sharedGroup?: string;
  withButton?: boolean;
  /** Device logins the broker knows but no simulated device uses: a hostile device's own credentials. */
  provisionedOnly?: readonly string[];
}

/**
 * One scenario's whole system: backend processes, simulated devices (each behind a TCP proxy the
 * scenario can partition), and what the scenario expects to go wrong. Everything it starts is
 * torn down in the After hook, pass or fail.
 */
export class SystemWorld extends World {
  stack: BackendStack | undefined;
  readonly devices = new Map<string, SimulatedDevice>();
  readonly proxies = new Map<string, TcpProxy>();
  report: DeliveryReport | undefined;
  /** Watches a device's AOF from "the power of device ... can be cut" on, for the power cut. */
  powerTracker: AofSizeTracker | undefined;
  /** Error events the scenario caused on purpose; any other error log fails the scenario. */
  readonly expectedErrors = new Set<string>();
  /** Facts for the scenario's report file. */
  readonly facts: Record<string, unknown> = {};
  readonly startedAt = Date.now();
  private readonly controlDir = makeTempDir('control');
  private database: Database | undefined;

  constructor(options: IWorldOptions) {
    super(options);
  }

  async startSystem(options: SystemOptions): Promise<void> {
    const ids = Array.from({ length: options.devices }, (_, i) => `dev-${i + 1}`);
    this.stack = await new BackendStack({ deviceIds: [...ids, ...(options.provisionedOnly ?? [])], broker: options.broker }).start();
    for (let i = 0; i < (options.receivers ?? 1); i++) {
      await this.stack.startReceiver({ ...(options.sharedGroup === undefined ? {} : { group: options.sharedGroup }), env: { LOG_LEVEL: 'debug' } });
    }
    for (const id of ids) {
      const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: this.stack.brokerPort }).start();
      this.proxies.set(id, proxy);
      const device = new SimulatedDevice({
        id,
        mqtt: { port: proxy.port, login: this.stack.login(id) },
        intervalSeconds: options.intervalSeconds,
        withButton: options.withButton ?? false,
        controlDir: this.controlDir.path,
        uplinkEnv: { MQTT_KEEPALIVE_SECONDS: '5' },
      });
      this.devices.set(id, await device.start());
    }
    this.facts.system = { ...options, deviceIds: ids };
  }

  get backend(): BackendStack {
    if (this.stack === undefined) throw new Error('no system started: begin the scenario with "Given a system with ..."');
    return this.stack;
  }

  device(id: string): SimulatedDevice {
    const device = this.devices.get(id);
    if (device === undefined) throw new Error(`no device "${id}"; this scenario has ${[...this.devices.keys()].join(', ')}`);
    return device;
  }

  async db(): Promise<Database> {
    this.database ??= await this.backend.database();
    return this.database;
  }

  /** Every service process of the scenario, for the unchecked-error guard. */
  processes(): ServiceProcess[] {
    return [...(this.stack?.receivers ?? []), ...[...this.devices.values()].flatMap((d) => d.processes())];
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
    await Promise.all([...this.devices.values()].map((d) => d.dispose().catch(() => {})));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    await this.database?.close().catch(() => {});
    await this.stack?.dispose();
    this.controlDir.remove();
  }
}

setWorldConstructor(SystemWorld);
