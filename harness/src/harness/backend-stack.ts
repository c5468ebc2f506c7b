import { randomBytes } from 'node:crypto';
import { TopicScheme } from '@iot/common/protocol';
import { type Database, openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import { maxPacketBytes, writeMosquittoFiles } from '@iot/backend/broker';
import { type Broker, BrokerProcess } from '../processes/broker-process.ts';
import { findFreePort } from '../processes/free-port.ts';
import { MariaDbServer } from '../processes/mariadb-server.ts';
import { MosquittoServer } from '../processes/mosquitto-server.ts';
import { type ServiceProcess, startServiceProcess } from '../processes/service-process.ts';
import { makeTempDir } from '../processes/temp-dir.ts';
import { Credentials, type Login } from './credentials.ts';
import type { BackendUnderTest } from './under-test.ts';

export interface WebAdminInfo {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The first admin account, created from env on first start. */
  admin: { username: string; password: string };
  process: ServiceProcess;
}

export type BrokerKind = 'aedes' | 'mosquitto';
export type DatabaseKind = 'mariadb' | 'sqlite';

export interface BackendStackOptions {
  broker?: BrokerKind;
  database?: DatabaseKind;
  /** Devices that get MQTT credentials. */
  deviceIds: readonly string[];
  maxPayloadBytes?: number;
  /** Use this database instead of starting one (e.g. DATABASE_URL of `npm start`). */
  databaseUrl?: string;
  /** Service logs go here (default: the stack's temp dir). */
  logDir?: string;
}

/**
 * The backend as real processes on loopback: a broker (our aedes service or Mosquitto, both with
 * the same users and topic policy), MariaDB (own datadir, free port) or SQLite, and any number of
 * receivers. Everything lives in one temp dir and goes away with {@link dispose}.
 */
export class BackendStack implements BackendUnderTest {
  readonly options: Required<Omit<BackendStackOptions, 'maxPayloadBytes' | 'databaseUrl' | 'logDir'>> &
    Pick<BackendStackOptions, 'databaseUrl' | 'logDir'> & { maxPayloadBytes: number };
  readonly receivers: ServiceProcess[] = [];
  readonly webAdmins: ServiceProcess[] = [];
  credentials!: Credentials;
  broker!: Broker;
  mariadb: MariaDbServer | undefined;
  databaseUrl!: string;
  private readonly dir = makeTempDir('backend');
  private readonly databases: Database[] = [];

  constructor(options: BackendStackOptions) {
    this.options = { broker: 'aedes', database: 'mariadb', maxPayloadBytes: 256 * 1024, ...options };
  }

  /** Where the services' logs are written. */
  get logDir(): string {
    return this.options.logDir ?? this.dir.path;
  }

  get brokerPort(): number {
    return this.broker.port;
  }

  async start(): Promise<this> {
    this.credentials = await Credentials.create(this.dir.path, this.options.deviceIds);
    if (this.options.databaseUrl !== undefined) {
      this.databaseUrl = this.options.databaseUrl;
    } else if (this.options.database === 'mariadb') {
      this.mariadb = new MariaDbServer();
      await this.mariadb.start();
      this.databaseUrl = this.mariadb.url;
    } else {
      this.databaseUrl = `sqlite:${this.dir.path}/iot.sqlite`;
    }
    this.broker = await this.startBroker();
    return this;
  }

  /** Starts one more receiver process; with `group`, receivers share the load (MQTT 5 shared subscription). */
  async startReceiver(options: { clientId?: string; group?: string; env?: Record<string, string> } = {}): Promise<ServiceProcess> {
    const receiver = startServiceProcess(
      'receiver',
      {
        ...this.serviceMqttEnv('receiver', options.clientId ?? `receiver-${this.receivers.length + 1}`),
        // aedes speaks MQTT 3.1.1 only; shared subscriptions are an MQTT 5 feature.
        MQTT_PROTOCOL_VERSION: this.options.broker === 'mosquitto' ? '5' : '4',
        DATABASE_URL: this.databaseUrl,
        RECEIVER_MAX_PAYLOAD_BYTES: String(this.options.maxPayloadBytes),
        ...(options.group === undefined ? {} : { RECEIVER_SHARED_GROUP: options.group }),
        ...options.env,
      },
      { logFile: `${this.logDir}/receiver-${this.receivers.length + 1}.log` },
    );
    this.receivers.push(receiver);
    await receiver.waitForLog((r) => r.event === 'receiver_subscribed', 30_000, 'the receiver to subscribe');
    return receiver;
  }

  /**
   * Starts the web admin process on a free port, connected to this stack's broker (as the MQTT
   * user `webadmin`) and database, with a first admin account.
   */
  async startWebAdmin(options: { port?: number; host?: string; env?: Record<string, string> } = {}): Promise<WebAdminInfo> {
    const port = options.port ?? (await findFreePort());
    // Random: `npm start` prints it, and nobody else on the machine should guess it.
    const admin = { username: 'admin', password: randomBytes(12).toString('base64url') };
    const process = startServiceProcess(
      'webadmin',
      {
        WEBADMIN_PORT: String(port),
        WEBADMIN_HOST: options.host ?? '127.0.0.1',
        DATABASE_URL: this.databaseUrl,
        ...this.serviceMqttEnv('webadmin', `webadmin-${this.webAdmins.length + 1}`),
        WEBADMIN_ADMIN_USERNAME: admin.username,
        WEBADMIN_ADMIN_PASSWORD: admin.password,
        ...options.env,
      },
      { logFile: `${this.logDir}/webadmin-${this.webAdmins.length + 1}.log` },
    );
    this.webAdmins.push(process);
    await process.waitForLog((r) => r.event === 'webadmin_listening', 30_000, 'the web admin to listen');
    return { url: `http://${options.host ?? '127.0.0.1'}:${port}`, admin, process };
  }

  /** How a backend service reaches this stack's broker as the service user `username`. */
  private serviceMqttEnv(username: string, clientId: string): Record<string, string> {
    const login = this.credentials.login(username);
    return { MQTT_HOST: '127.0.0.1', MQTT_PORT: String(this.broker.port), MQTT_USERNAME: login.username, MQTT_PASSWORD: login.password, MQTT_CLIENT_ID: clientId };
  }

  /** MQTT login of a device or service user. */
  login(username: string): Login {
    return this.credentials.login(username);
  }

  /** A database handle for assertions (opened without migrating: the receiver owns that). */
  async database(): Promise<Database> {
    const db = await openDatabase(parseDatabaseUrl(this.databaseUrl), { migrate: false });
    this.databases.push(db);
    return db;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.webAdmins, ...this.receivers].map((r) => r.kill()));
    await Promise.all(this.databases.map((db) => db.close().catch(() => {})));
    await this.broker?.dispose();
    await this.mariadb?.dispose();
    this.dir.remove();
  }

  private async startBroker(): Promise<Broker> {
    if (this.options.broker === 'aedes') {
      const broker = new BrokerProcess({
        env: { MQTT_CREDENTIALS_FILE: this.credentials.file, MQTT_MAX_PAYLOAD_BYTES: String(this.options.maxPayloadBytes) },
        logFile: `${this.logDir}/broker.log`,
      });
      return broker.start();
    }
    const files = await writeMosquittoFiles(this.dir.path, {
      users: this.credentials.users,
      topics: new TopicScheme(),
      passwords: this.credentials.passwords,
      maxPayloadBytes: this.options.maxPayloadBytes,
      maxPacketBytes: maxPacketBytes(this.options.maxPayloadBytes),
    });
    return new MosquittoServer({ conf: files.conf }).start();
  }
}
