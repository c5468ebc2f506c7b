import { TcpProxy } from '../faults/tcp-proxy.ts';
import type { ServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { BackendStack } from './backend-stack.ts';
import { SimulatedDevice } from './simulated-device.ts';
import type { SystemOptions, SystemUnderTest } from './under-test.ts';

/**
 * A whole system as OS processes on loopback: the backend stack, and each simulated device behind
 * a TCP proxy to the broker that a scenario can partition or slow down.
 */
export class ProcessSystem implements SystemUnderTest {
  readonly backend: BackendStack;
  readonly devices = new Map<string, SimulatedDevice>();
  readonly links = new Map<string, TcpProxy>();
  private readonly controlDir = makeTempDir('control');

  private constructor(backend: BackendStack) {
    this.backend = backend;
  }

  static async start(options: SystemOptions): Promise<ProcessSystem> {
    const ids = Array.from({ length: options.devices }, (_, i) => `dev-${i + 1}`);
    const system = new ProcessSystem(new BackendStack({ deviceIds: [...ids, ...(options.provisionedOnly ?? [])], broker: options.broker }));
    try {
      await system.run(ids, options);
    } catch (error) {
      await system.dispose();
      throw error;
    }
    return system;
  }

  services(): ServiceProcess[] {
    return [...this.backend.receivers, ...[...this.devices.values()].flatMap((d) => d.processes())];
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.devices.values()].map((d) => d.dispose().catch(() => {})));
    await Promise.all([...this.links.values()].map((p) => p.close()));
    await this.backend.dispose();
    this.controlDir.remove();
  }

  private async run(ids: readonly string[], options: SystemOptions): Promise<void> {
    const stack = await this.backend.start();
    for (let i = 0; i < (options.receivers ?? 1); i++) {
      await stack.startReceiver({ ...(options.sharedGroup === undefined ? {} : { group: options.sharedGroup }), env: { LOG_LEVEL: 'debug' } });
    }
    for (const id of ids) {
      const proxy = await new TcpProxy({ targetHost: '127.0.0.1', targetPort: stack.brokerPort }).start();
      this.links.set(id, proxy);
      const device = new SimulatedDevice({
        id,
        mqtt: { port: proxy.port, login: stack.login(id) },
        intervalSeconds: options.intervalSeconds,
        withButton: options.withButton ?? false,
        controlDir: this.controlDir.path,
        uplinkEnv: { MQTT_KEEPALIVE_SECONDS: '5', ...options.uplinkEnv },
      });
      this.devices.set(id, await device.start());
    }
  }
}
