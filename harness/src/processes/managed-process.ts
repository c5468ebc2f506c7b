import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RunOutput, type ExitInfo, type ServerRun } from './server-run.ts';

export type { ExitInfo } from './server-run.ts';

export interface ProcessSpec {
  /** Short name used in errors and log file names. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** If set, stdout and stderr are appended here as well. */
  logFile?: string;
}

/** Every process started through this module, so an exiting test run can take them all down. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: a crashed test runner must not leave redis-servers behind.
  process.on('exit', () => {
    for (const p of live) p.child.kill('SIGKILL');
  });
}

/**
 * A child process the harness supervises: its output is kept line by line (stdout and stderr
 * separately) and can be waited on; it can be stopped, killed, frozen and thawed.
 */
export class ManagedProcess extends RunOutput implements ServerRun {
  readonly child: ChildProcess;

  constructor(spec: ProcessSpec) {
    super(spec.name, spec.logFile);
    installExitHook();
    this.child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.collect(this.child.stdout!, 'stdout');
    this.collect(this.child.stderr!, 'stderr');
    live.add(this);
    const done = (info: ExitInfo) => {
      live.delete(this);
      this.finished(info);
    };
    this.child.once('exit', (code, signal) => done({ code, signal }));
    this.child.once('error', (error) => {
      this.stderrLines.push(`spawn failed: ${error.message}`);
      done({ code: -1, signal: null });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.endLog();
    }
  }

  /** SIGKILL: the process gets no chance to clean up, as in a crash. */
  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL');
  }

  /** SIGSTOP: the process freezes with its sockets open. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.child.kill('SIGCONT');
  }

  private collect(stream: NodeJS.ReadableStream, kind: 'stdout' | 'stderr'): void {
    const reader = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    reader.on('line', (line) => this.addLine(line, kind));
  }
}
