import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

type Stream = 'stdout' | 'stderr';

/**
 * A container's output, line by line, kept across its restarts: `docker logs --follow` runs
 * while the container does and ends when it stops. The engine keeps every start's output in one
 * log, so after a restart the new follower replays the earlier lines first; they are skipped by
 * count, per stream (each stream's lines arrive in order). The service writes each line with one
 * write, atomic on a pipe, so a kill does not leave half a line to shift the count.
 */
export class LogFollower {
  readonly container: string;
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  private child: ChildProcess | undefined;
  private ended: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(container: string) {
    this.container = container;
  }

  /** Whether a follower is attached (the container runs, or has just stopped and its last lines drain). */
  get following(): boolean {
    return this.child !== undefined;
  }

  /** Calls `listener` after every new line and when a follower ends. @returns the unsubscribe function */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Attaches a follower to the container's log; call after each start. */
  follow(): void {
    if (this.child !== undefined) return;
    const seen: Record<Stream, number> = { stdout: this.lines.stdout.length, stderr: this.lines.stderr.length };
    const replayed: Record<Stream, number> = { stdout: 0, stderr: 0 };
    const child = spawn('docker', ['logs', '--follow', this.container], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const read = (stream: Stream) =>
      new Promise<void>((resolve) => {
        const reader = createInterface({ input: child[stream]!, crlfDelay: Number.POSITIVE_INFINITY });
        reader.on('line', (line) => {
          if (replayed[stream] < seen[stream]) {
            replayed[stream]++;
            return;
          }
          this.lines[stream].push(line);
          this.notify();
        });
        reader.once('close', resolve);
      });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        this.lines.stderr.push(`docker logs failed: ${error.message}`);
        resolve();
      });
    });
    this.ended = Promise.all([read('stdout'), read('stderr'), exited]).then(() => {
      this.child = undefined;
      this.notify();
    });
  }

  /** Resolves once the current follower has delivered the last line of the stopped container. */
  drained(): Promise<void> {
    return this.ended;
  }

  /** Detaches at once (the container may still run); its lines so far stay. */
  async close(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.ended;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
