import { lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ControlHandler } from './control-handler.ts';
import type { ControlledHardware } from './controlled-hardware.ts';
import { type ControlResponse, parseRequestLine } from './control-protocol.ts';
import { readJsonLines } from './json-lines.ts';

/** Linux `sun_path` holds 108 bytes including the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;
/** A request line longer than this is not a control request; the connection is dropped. */
const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Serves the simulation control protocol (see control-protocol.ts) for one simulated hardware ({@link ControlledHardware})
 * on a unix socket, so tests and scenarios can reach into a device service running as its own OS
 * process. A malformed request gets an error response; nothing a client sends can crash the device.
 */
export class ControlServer {
  readonly socketPath: string;
  private readonly server: Server;
  private readonly handler: ControlHandler;
  private readonly connections = new Set<Socket>();

  private constructor(socketPath: string, hardware: ControlledHardware) {
    this.socketPath = socketPath;
    this.handler = new ControlHandler(hardware);
    this.server = createServer((socket) => this.accept(socket));
  }

  /**
   * Binds `socketPath`, replacing a socket file a crashed process left behind. Rejects if another
   * process still serves on it or the path cannot be bound, with a message naming the path.
   */
  static async listen(socketPath: string, hardware: ControlledHardware): Promise<ControlServer> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(
        `SIM_CONTROL_SOCKET ${socketPath} is ${Buffer.byteLength(socketPath)} bytes; unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} (unix(7)): use a shorter directory`,
      );
    }
    await removeStaleSocket(socketPath);
    const control = new ControlServer(socketPath, hardware);
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(new Error(`cannot serve simulation control on ${socketPath}: ${error.message}`));
      control.server.once('error', failed);
      control.server.listen(socketPath, () => {
        control.server.off('error', failed);
        resolve();
      });
    });
    // After listening, errors concern single connections; they must not take the device down.
    control.server.on('error', () => {});
    return control;
  }

  /** Stops serving: drops open connections and removes the socket file. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    await unlink(this.socketPath).catch(() => {});
  }

  private accept(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => {});
    readJsonLines(socket, {
      maxLineLength: MAX_LINE_LENGTH,
      onLine: (line) => void this.answer(socket, line),
      onOverflow: () => {
        send(socket, { id: null, ok: false, error: `request line longer than ${MAX_LINE_LENGTH} bytes; closing the connection` });
        socket.end();
      },
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    const parsed = parseRequestLine(line);
    if ('error' in parsed) {
      send(socket, { id: parsed.id, ok: false, error: parsed.error });
      return;
    }
    try {
      const result = await this.handler.handle(parsed.request);
      send(socket, result === undefined ? { id: parsed.id, ok: true } : { id: parsed.id, ok: true, result });
    } catch (error) {
      send(socket, { id: parsed.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

function send(socket: Socket, response: ControlResponse): void {
  if (socket.writable) socket.write(`${JSON.stringify(response)}\n`);
}

/**
 * A socket file survives a crashed (SIGKILLed) device; binding fails on it, so it is removed when
 * nobody answers on it. A live server or a file that is not a socket is left alone, with an error.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const stats = await lstat(socketPath).catch(() => undefined);
  if (stats === undefined) return;
  if (!stats.isSocket()) throw new Error(`SIM_CONTROL_SOCKET ${socketPath} exists and is not a socket; refusing to replace it`);
  if (await answers(socketPath)) throw new Error(`another process already serves simulation control on ${socketPath}; give each process its own SIM_CONTROL_SOCKET`);
  await unlink(socketPath).catch(() => {});
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
