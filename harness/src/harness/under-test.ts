import type { Database } from '@iot/backend/db';
import type { RecordedReading } from '../checker/delivery-checker.ts';
import type { LogRecord } from '../processes/service-process.ts';
import type { Login } from './credentials.ts';

/**
 * What the Cucumber steps and the checker use of a running system, whether its parts are OS
 * processes (BackendStack, SimulatedDevice, TcpProxy) or containers (ContainerSystem). The steps
 * depend on these interfaces only, so one scenario text runs on either.
 */

/** A service with JSON log lines: a ServiceProcess, or a container of one. */
export interface RunningService {
  readonly name: string;
  /** Every parsed log record (a container: of every start). */
  logs(): LogRecord[];
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs: number, what?: string): Promise<LogRecord>;
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T>;
  /** SIGKILL, as in a crash. */
  kill(): Promise<unknown>;
  tail(count?: number): string;
}

/** A server a fault can crash, restart and freeze: the broker, MariaDB. */
export interface FaultableServer {
  /** SIGKILL (`docker kill`). */
  kill(): Promise<unknown>;
  /** Starts again with the same data and address; resolves once it serves. */
  start(): Promise<unknown>;
  /** SIGSTOP (`docker pause`): sockets stay open, nothing answers. */
  freeze(): void | Promise<void>;
  thaw(): void | Promise<void>;
}

export interface ReceiverOptions {
  clientId?: string;
  /** Receivers with the same group share the load (MQTT 5 shared subscription). */
  group?: string;
  env?: Record<string, string>;
}

export interface BackendUnderTest {
  readonly broker: FaultableServer;
  /** The broker's port on 127.0.0.1, for clients the steps open. */
  readonly brokerPort: number;
  readonly mariadb: FaultableServer | undefined;
  readonly receivers: readonly RunningService[];
  startReceiver(options?: ReceiverOptions): Promise<RunningService>;
  /** MQTT login of a device or service user. */
  login(username: string): Login;
  /** A database handle for assertions, reached from the host. */
  database(): Promise<Database>;
}

/** A device's Redis as the faults need it: reachable from the host, its data directory on the host. */
export interface DeviceRedis {
  readonly host: string;
  readonly port: number;
  /** Host directory holding its AOF (AofSizeTracker, powerCut). */
  readonly dir: string;
  /** SIGKILL; what it had written but not fsynced stays in the page cache (powerCut cuts it). */
  kill(): Promise<void>;
  start(): Promise<unknown>;
}

export interface DeviceUnderTest {
  readonly id: string;
  readonly redis: DeviceRedis;
  readonly sensor: RunningService | undefined;
  readonly uplink: RunningService | undefined;
  readonly button: RunningService | undefined;
  /** Every reading any boot of the sensor recorded (Redis acknowledged its XADD). */
  history(): RecordedReading[];
  /** Every service this device ran, restarted ones included. */
  processes(): RunningService[];
  startSensor(): RunningService | Promise<RunningService>;
  startUplink(): RunningService | Promise<RunningService>;
  /** Stops the sensor cleanly: it writes its shutdown marker. */
  stopSensor(): Promise<void>;
  /** Resolves once the backend confirmed everything up to the stream's end. */
  drained(timeoutMs: number): Promise<void>;
  /** The simulation control socket of a service; undefined where there is none. */
  controlSocket(service: 'sensor' | 'button'): string | undefined;
}

/** The network between one device and the broker, as a fault sees it. */
export interface DeviceLink {
  /** Nothing passes until {@link heal}; open connections see silence or errors, as a pulled cable. */
  partition(): void | Promise<void>;
  heal(): void | Promise<void>;
  setLatency(ms: number): void;
}

/** What the world needs to start a system, on processes or containers. */
export interface SystemOptions {
  broker: 'aedes' | 'mosquitto';
  devices: number;
  intervalSeconds: number;
  receivers?: number;
  sharedGroup?: string;
  withButton?: boolean;
  /** Device logins the broker knows but no simulated device uses: a hostile device's own credentials. */
  provisionedOnly?: readonly string[];
  /** Extra env of every device's uplink, e.g. UPLINK_WINDOW. */
  uplinkEnv?: Readonly<Record<string, string>>;
}

/** A whole running system: backend, devices, their links; {@link dispose} removes all of it. */
export interface SystemUnderTest {
  readonly backend: BackendUnderTest;
  readonly devices: ReadonlyMap<string, DeviceUnderTest>;
  readonly links: ReadonlyMap<string, DeviceLink>;
  /** Every service of the system, for the unchecked-error guard. */
  services(): RunningService[];
  dispose(): Promise<void>;
}
