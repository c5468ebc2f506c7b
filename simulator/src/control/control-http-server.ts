import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '@iot/common/log';
import { type ControlledDevices, ControlRefusedError } from './control-handler.ts';
import { type ControlOp, parseRequest } from './control-protocol.ts';

export interface ControlHttpServerOptions {
  devices: ControlledDevices;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 (the default) picks a free one, see {@link ControlHttpServer.port}. */
  port?: number;
  logger?: Logger;
  /** Extra fields for `GET /health` (e.g. connection counts). */
  health?: () => Record<string, unknown>;
  /** Largest request body accepted; default 16 KiB. */
  maxBodyBytes?: number;
}

/** Path segment after /devices/:name → the control op it carries. */
const ACTIONS: Readonly<Record<string, ControlOp>> = {
  button: 'button',
  'bus-fault': 'bus_fault',
  'chip-fault': 'chip_fault',
  conditions: 'conditions',
};

/** A request that cannot be served, with the status and message to answer it with. */
class HttpProblem extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The simulation control API over HTTP, for people (curl) and test scenarios reaching the fleet
 * of the simulator service: JSON in, JSON out, `{ "error": "..." }` with a 4xx status for any
 * request it cannot serve. Requests are validated with the control protocol's schemas and carried
 * out by the same {@link ControlHandler} the unix control socket uses (docs/hardware-contracts.md
 * §14). Built on node:http alone, because the simulator ships in the device bundle.
 */
export class ControlHttpServer {
  private readonly server: Server;
  private readonly options: ControlHttpServerOptions;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;

  private constructor(options: ControlHttpServerOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
    this.server = createServer((request, response) => void this.serve(request, response));
  }

  static async listen(options: ControlHttpServerOptions): Promise<ControlHttpServer> {
    const http = new ControlHttpServer(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(new Error(`cannot serve the simulation control API on ${host}:${options.port ?? 0}: ${error.message}`));
      http.server.once('error', failed);
      http.server.listen(options.port ?? 0, host, () => {
        http.server.off('error', failed);
        resolve();
      });
    });
    http.server.on('error', (error) => http.logger.warn({ event: 'control_http_error', err: error }, 'simulation control API error'));
    // A client that never finishes its request must not hold a connection for ever.
    http.server.requestTimeout = 30_000;
    http.server.headersTimeout = 10_000;
    return http;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting requests and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const { status, body } = await this.route(request);
      reply(response, status, body);
    } catch (error) {
      if (error instanceof HttpProblem) {
        reply(response, error.status, { error: error.message }, error.headers);
        return;
      }
      this.logger.error({ event: 'control_http_failed', method: request.method, url: request.url, err: error }, 'simulation control request failed');
      reply(response, 500, { error: `the simulator failed to carry out the request: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  private async route(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const path = new URL(request.url ?? '/', 'http://simulator').pathname.replace(/\/+$/, '');
    const segments = path.split('/').slice(1).map(decodeSegment);
    const [root, name, action, ...rest] = segments;
    const devices = this.options.devices;
    if (root === 'health' && segments.length === 1) {
      allow(request, 'GET');
      return { status: 200, body: { status: 'ok', devices: devices.names().length, ...this.options.health?.() } };
    }
    if (root !== 'devices' || rest.length > 0) throw new HttpProblem(404, `no such path ${path || '/'}; see GET /health, GET /devices, GET /devices/:name, POST /devices/:name/{${Object.keys(ACTIONS).join(',')}}`);
    if (name === undefined) {
      allow(request, 'GET');
      return { status: 200, body: { devices: devices.names() } };
    }
    if (action !== undefined && !Object.hasOwn(ACTIONS, action)) {
      throw new HttpProblem(404, `no such action "${action}"; POST /devices/:name/ takes one of ${Object.keys(ACTIONS).join(', ')}`);
    }
    allow(request, action === undefined ? 'GET' : 'POST');
    const handler = devices.handler(name);
    if (handler === undefined) throw new HttpProblem(404, unknownDevice(name, devices.names()));
    const body = action === undefined ? { op: 'state' } : { ...(await this.readJson(request)), op: ACTIONS[action] };
    const parsed = parseRequest(body);
    if ('error' in parsed) throw new HttpProblem(400, parsed.error.replace(/^invalid (\w+) request/, `invalid ${action ?? 'state'} request`));
    try {
      const result = await handler.handle(parsed.request);
      return { status: 200, body: result ?? { ok: true } };
    } catch (error) {
      if (error instanceof ControlRefusedError) throw new HttpProblem(409, error.message);
      throw error;
    }
  }

  /** The request body as a JSON object, within the size limit. */
  private async readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      drain(request);
      throw new HttpProblem(415, `send a JSON body with Content-Type: application/json (got ${type === '' ? 'no content type' : type}); with curl: --json '{...}'`);
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > this.maxBodyBytes) {
      drain(request);
      throw new HttpProblem(413, `request body of ${declared} bytes is over the limit of ${this.maxBodyBytes}`, { connection: 'close' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBodyBytes) {
        drain(request);
        throw new HttpProblem(413, `request body is over the limit of ${this.maxBodyBytes} bytes`, { connection: 'close' });
      }
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpProblem(400, `request body is not JSON: ${text.length > 80 ? `${text.slice(0, 80)}...` : text}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpProblem(400, 'request body must be a JSON object, e.g. {"pin":17,"action":"click"}');
    return value as Record<string, unknown>;
  }
}

function allow(request: IncomingMessage, method: 'GET' | 'POST'): void {
  if (request.method === method) return;
  drain(request);
  throw new HttpProblem(405, `${request.method} is not allowed here; use ${method}`, { allow: method });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpProblem(400, `malformed percent-encoding in path segment "${segment}"`);
  }
}

function unknownDevice(name: string, names: readonly string[]): string {
  const known = names.length === 0 ? 'none yet' : `${names.slice(0, 20).join(', ')}${names.length > 20 ? `, ... (${names.length} in all)` : ''}`;
  return `no simulated device "${name}" (devices: ${known}); a device exists once one of its services has connected with SIM_REMOTE_DEVICE=${name}`;
}

/** Reads and discards what is left of a request, so its response can still be read by the client. */
function drain(request: IncomingMessage): void {
  request.resume();
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}
