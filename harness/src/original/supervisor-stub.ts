import { createServer, type Server } from 'node:http';

/** One request the stub received. */
export interface SupervisorCall {
  method: string;
  /** Path without the query. */
  path: string;
  /** The `apikey` query parameter, as the original's reboot script sends it. */
  apiKey: string | null;
  /** The status the stub answered. */
  status: number;
}

/**
 * A stand-in for the balena supervisor's HTTP API (docs/original-system.md §13): the original's
 * reboot script POSTs to `$BALENA_SUPERVISOR_ADDRESS/v1/reboot?apikey=…` with curl. The stub
 * records every call and answers the status it is told to, so a test can produce an accepted
 * reboot (202, as the supervisor answers) or a failed one (500).
 */
export class SupervisorStub {
  readonly apiKey: string;
  readonly calls: SupervisorCall[] = [];
  /** The status the next calls get. */
  status = 202;
  private server: Server | undefined;
  private listenPort: number | undefined;

  constructor(apiKey = 'compat-test-api-key') {
    this.apiKey = apiKey;
  }

  /** The value for BALENA_SUPERVISOR_ADDRESS. */
  get address(): string {
    if (this.listenPort === undefined) throw new Error('SupervisorStub has not been started');
    return `http://127.0.0.1:${this.listenPort}`;
  }

  /** Calls to the reboot endpoint so far. */
  get reboots(): SupervisorCall[] {
    return this.calls.filter((c) => c.method === 'POST' && c.path === '/v1/reboot');
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://stub');
      const call: SupervisorCall = { method: req.method ?? '', path: url.pathname, apiKey: url.searchParams.get('apikey'), status: this.status };
      this.calls.push(call);
      req.resume();
      req.on('end', () => {
        res.writeHead(call.status, { 'Content-Type': 'text/plain' });
        res.end(call.status < 300 ? 'OK' : 'Internal Server Error');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('SupervisorStub could not determine its port');
    this.listenPort = address.port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
