import { execFile } from 'node:child_process';

/** A `docker` command that failed: the arguments, its exit code and what it wrote to stderr. */
export class DockerCommandError extends Error {
  readonly args: readonly string[];
  readonly stderr: string;
  readonly exitCode: number | string | undefined;

  constructor(args: readonly string[], stderr: string, exitCode: number | string | undefined, cause?: unknown) {
    super(`docker ${args.join(' ')} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || String(cause)}`, { cause });
    this.name = 'DockerCommandError';
    this.args = args;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }

  /** The engine says the object does not exist (already removed, never created). */
  get notFound(): boolean {
    return /No such (container|network|volume|object)|not found/i.test(this.stderr);
  }
}

export interface DockerRunOptions {
  /** The command is killed after this long; the engine may be busy, not gone (default 60 s). */
  timeoutMs?: number;
}

/**
 * Runs the `docker` CLI and resolves with its stdout, trimmed. Through the CLI rather than the
 * engine API so the harness needs no client library, and what it does can be pasted into a shell.
 */
export function docker(args: readonly string[], options: DockerRunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', [...args], { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout.trim());
      else reject(new DockerCommandError(args, stderr, (error as NodeJS.ErrnoException & { code?: number | string }).code, error));
    });
  });
}

/** Like {@link docker}, but an object that is already gone is not an error. */
export async function dockerIgnoringMissing(args: readonly string[], options: DockerRunOptions = {}): Promise<string | undefined> {
  try {
    return await docker(args, options);
  } catch (error) {
    if (error instanceof DockerCommandError && error.notFound) return undefined;
    throw error;
  }
}

/**
 * Why no Docker engine can be used here, in one sentence that says what to do; undefined when
 * one answers. Asks the server's version, so a CLI without a reachable engine counts as none.
 */
export async function dockerEngineProblem(timeoutMs = 15_000): Promise<string | undefined> {
  try {
    const version = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs });
    return version === '' ? 'the docker CLI answered without a server version; is the engine running?' : undefined;
  } catch (error) {
    const code = error instanceof DockerCommandError ? error.exitCode : undefined;
    if (code === 'ENOENT') return 'the docker CLI is not installed (no `docker` on PATH)';
    const detail = error instanceof DockerCommandError ? error.stderr.trim().split('\n')[0] : String(error);
    return `no Docker engine answers \`docker version\` (${detail || 'no answer'})`;
  }
}

/** Throws one clear error when no Docker engine answers; `purpose` says what needed it. */
export async function requireDockerEngine(purpose: string): Promise<void> {
  const problem = await dockerEngineProblem();
  if (problem !== undefined) throw new Error(`${purpose} need a Docker engine, but ${problem}. Start Docker (or point DOCKER_HOST at one), or run the process scenarios instead.`);
}

/** The images among `images` the engine does not have; they are never pulled (docker/build-images.sh builds them). */
export async function missingImages(images: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  await Promise.all(
    images.map(async (image) => {
      try {
        await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
      } catch {
        missing.push(image);
      }
    }),
  );
  return missing.sort();
}
