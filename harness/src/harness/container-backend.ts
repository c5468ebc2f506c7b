import { type Database, openDatabase, parseDatabaseUrl } from '@iot/backend/db';
import type { ContainerService } from '../docker/container-service.ts';
import { findFreePort } from '../processes/free-port.ts';
import { type ContainerScope, hostUser, SYSTEM_IMAGES } from './container-scope.ts';
import { type MariaDbContainer, mariaDbContainer } from './container-mariadb.ts';
import { Credentials, type Login } from './credentials.ts';
import type { BackendUnderTest, ReceiverOptions } from './under-test.ts';

/** Where the broker container reads the credential file: the host dir bind-mounted read-only. */
const CONFIG = '/config';
const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * The backend as containers of the backend image and MariaDB on one network (`backend`), as
 * docker-compose.yml runs them: the aedes broker (`mqttserver`), receivers, MariaDB (`mariadb`).
 * The broker's and MariaDB's ports are published on 127.0.0.1 for the steps' own clients.
 */
export class ContainerBackend implements BackendUnderTest {
  readonly network: string;
  readonly receivers: ContainerService[] = [];
  readonly broker: ContainerService;
  readonly brokerPort: number;
  private readonly scope: ContainerScope;
  private readonly credentials: Credentials;
  private readonly databases: Database[] = [];
  private readonly mariaDbPort: number;
  private started: MariaDbContainer | undefined;

  private constructor(scope: ContainerScope, network: string, credentials: Credentials, ports: { broker: number; mariadb: number }, configDir: string) {
    this.scope = scope;
    this.mariaDbPort = ports.mariadb;
    this.network = network;
    this.credentials = credentials;
    this.brokerPort = ports.broker;
    this.broker = scope.service(
      'mqttserver',
      {
        image: SYSTEM_IMAGES.backend,
        command: ['node', 'backend/src/broker/main.ts'],
        env: { MQTT_CREDENTIALS_FILE: `${CONFIG}/mqtt-credentials.json`, MQTT_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) },
        networks: [{ network, aliases: ['mqttserver'] }],
        publish: [{ containerPort: 1883, hostPort: ports.broker }],
        mounts: [{ source: configDir, target: CONFIG, readOnly: true }],
        ...userOption(),
      },
      { ready: (s, since) => s.waitForLog((r) => r.event === 'broker_ready', 30_000, 'the broker_ready log line', since).then(() => {}) },
    );
  }

  /** Writes the credentials into `configDir` (for the broker); nothing runs yet. */
  static async create(scope: ContainerScope, options: { network: string; configDir: string; logins: readonly string[] }): Promise<ContainerBackend> {
    const credentials = await Credentials.create(options.configDir, options.logins);
    const ports = { broker: await findFreePort(), mariadb: await findFreePort() };
    return new ContainerBackend(scope, options.network, credentials, ports, options.configDir);
  }

  get mariadb(): ContainerService {
    return this.db.service;
  }

  /** Resolves once the broker serves. */
  startBroker(): Promise<ContainerService> {
    return this.broker.start();
  }

  /** MariaDB from the run's template; resolves once it answers on its published port. */
  async startDatabase(): Promise<void> {
    this.started = await mariaDbContainer(this.scope, this.network, this.mariaDbPort);
    await this.started.service.start();
  }

  /** Starts one more receiver container; resolves once it subscribed. */
  async startReceiver(options: ReceiverOptions = {}): Promise<ContainerService> {
    const login = this.credentials.login('receiver');
    const receiver = this.scope.service(
      `receiver-${this.receivers.length + 1}`,
      {
        image: SYSTEM_IMAGES.backend,
        command: ['node', 'backend/src/receiver/main.ts'],
        env: {
          MQTT_HOST: 'mqttserver',
          MQTT_PORT: '1883',
          MQTT_USERNAME: login.username,
          MQTT_PASSWORD: login.password,
          MQTT_CLIENT_ID: options.clientId ?? `receiver-${this.receivers.length + 1}`,
          // aedes speaks MQTT 3.1.1 only.
          MQTT_PROTOCOL_VERSION: '4',
          DATABASE_URL: this.db.networkUrl,
          RECEIVER_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
          ...(options.group === undefined ? {} : { RECEIVER_SHARED_GROUP: options.group }),
          ...options.env,
        },
        networks: [{ network: this.network }],
      },
      { ready: (s, since) => s.waitForLog((r) => r.event === 'receiver_subscribed', 60_000, 'the receiver to subscribe', since).then(() => {}) },
    );
    this.receivers.push(receiver);
    return receiver.start();
  }

  login(username: string): Login {
    return this.credentials.login(username);
  }

  /** A database handle for assertions, through MariaDB's port on 127.0.0.1 (opened without migrating: the receiver owns that). */
  async database(): Promise<Database> {
    const db = await openDatabase(parseDatabaseUrl(this.db.hostUrl), { migrate: false });
    this.databases.push(db);
    return db;
  }

  private get db(): MariaDbContainer {
    if (this.started === undefined) throw new Error('MariaDB of the container backend has not been started');
    return this.started;
  }

  /** Closes the handles; the containers go with the scope. */
  async close(): Promise<void> {
    await Promise.all(this.databases.map((db) => db.close().catch(() => {})));
  }
}

function userOption(): { user?: string } {
  const user = hostUser();
  return user === undefined ? {} : { user };
}
