import { type Logger, silentLogger } from '@iot/common/log';
import { type Hardware, HardwareError, type I2cBus } from '@iot/hardware';
import { RemoteConnection, RemoteRefusedError } from './remote-connection.ts';
import { RemoteGpioController } from './remote-gpio.ts';
import { RemoteI2cBus } from './remote-i2c.ts';
import { DEFAULT_HARDWARE_PORT, DEVICE_NAME_PATTERN } from './remote-protocol.ts';

export interface RemoteHardwareOptions {
  /** Where the simulator service runs (SIM_REMOTE_HOST). */
  host: string;
  /** Its hardware port (SIM_REMOTE_PORT); default 7300. */
  port?: number;
  /** The simulated device to use (SIM_REMOTE_DEVICE); the services of one device name the same one. */
  device: string;
  /** What this client is, for the simulator's logs (e.g. `sensor`). */
  client?: string;
  /** Connection loss, reconnects and restores are logged here. */
  logger?: Logger;
  /** How long {@link createRemoteHardware} waits for the simulator; default 30 s. */
  connectTimeoutMs?: number;
  /** A request without an answer by then fails with the contract's error; default 5 s. */
  requestTimeoutMs?: number;
  /** Reconnect back-off, doubling from min to max; default 100 ms to 5 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/**
 * HARDWARE=remote: the GPIO and I2C contracts, carried out by the simulator service over TCP
 * (remote-protocol.ts, docs/hardware-contracts.md §14). The device's services see only the
 * {@link Hardware} contract, exactly as with the Pi drivers.
 */
export class RemoteHardware implements Hardware {
  readonly kind = 'remote' as const;
  readonly gpio: RemoteGpioController;
  /** The simulated device's name on the simulator. */
  readonly device: string;
  private readonly connection: RemoteConnection;
  private readonly logger: Logger;
  private readonly buses = new Set<RemoteI2cBus>();
  private nextHandle = 1;

  /** @internal Use {@link createRemoteHardware}. */
  constructor(connection: RemoteConnection, device: string, logger: Logger) {
    this.connection = connection;
    this.device = device;
    this.logger = logger;
    const nextHandle = () => this.nextHandle++;
    this.gpio = new RemoteGpioController(connection, nextHandle, logger);
    connection.onEdge = (watch, level, atMs) => this.gpio.dispatch(watch, level, atMs);
    connection.onRestore = async () => {
      // Every request goes out before the first await, so none of the service's can overtake them.
      const attempts = [...this.gpio.restore(), ...[...this.buses].map((bus) => bus.reopen())];
      const outcomes = await Promise.all(attempts);
      return { restored: outcomes.filter(Boolean).length, failed: outcomes.filter((ok) => !ok).length };
    };
  }

  /** `host:port` of the simulator. */
  get simulator(): string {
    return this.connection.simulator;
  }

  /** Whether the connection to the simulator is up right now. */
  get connected(): boolean {
    return this.connection.connected;
  }

  /** Resolves once connected (at once if so), or rejects after `timeoutMs`. */
  waitForConnection(timeoutMs: number): Promise<void> {
    return this.connection.waitForConnection(timeoutMs);
  }

  /**
   * Opens bus `busNumber` on the simulated device. While the simulator is unreachable the handle
   * is made anyway and opened there on reconnect, as the sensor opens its bus once at start.
   * @throws HardwareError (code `i2c_open`) if the simulator refuses.
   */
  async openI2cBus(busNumber: number): Promise<I2cBus> {
    if (!Number.isInteger(busNumber) || busNumber < 0 || busNumber > 22) throw new RangeError(`I2C bus number must be 0..22, got ${busNumber}`);
    const bus = new RemoteI2cBus({
      connection: this.connection,
      handle: this.nextHandle++,
      busNumber,
      logger: this.logger,
      onClose: (closed) => this.buses.delete(closed),
    });
    this.buses.add(bus);
    if (!this.connection.connected) return bus;
    try {
      await bus.openOnSimulator();
    } catch (error) {
      if (!(error instanceof RemoteRefusedError)) return bus;
      this.buses.delete(bus);
      throw new HardwareError('i2c_open', `I2C bus ${busNumber}: the simulator at ${this.simulator} refused to open it: ${error.message}`, { cause: error });
    }
    return bus;
  }

  /** Closes every pin and bus (the simulator releases them) and the connection. */
  async close(): Promise<void> {
    await this.gpio.close();
    await Promise.all([...this.buses].map((bus) => bus.close()));
    await this.connection.close();
  }
}

/**
 * Connects to the simulator service and says hello as `device`, waiting up to `connectTimeoutMs`
 * for it to come up. Rejects with a message naming the simulator if it stays unreachable or
 * refuses the device.
 */
export async function createRemoteHardware(options: RemoteHardwareOptions): Promise<RemoteHardware> {
  if (!DEVICE_NAME_PATTERN.test(options.device)) {
    throw new Error(`remote hardware: device name ${JSON.stringify(options.device)} must be 1–64 of A–Z a–z 0–9 . _ -`);
  }
  const logger = options.logger ?? silentLogger();
  const connection = new RemoteConnection({
    host: options.host,
    port: options.port ?? DEFAULT_HARDWARE_PORT,
    device: options.device,
    ...(options.client === undefined ? {} : { client: options.client }),
    logger,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    reconnectMinMs: options.reconnectMinMs ?? 100,
    reconnectMaxMs: options.reconnectMaxMs ?? 5_000,
  });
  const hardware = new RemoteHardware(connection, options.device, logger);
  try {
    await connection.start();
  } catch (error) {
    await connection.close();
    throw error;
  }
  return hardware;
}
