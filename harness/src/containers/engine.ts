import type { ContainerRuntimeClient } from 'testcontainers';

/** What testcontainers found when asked for a Docker engine. */
export type EngineStatus = { ok: true; client: ContainerRuntimeClient; description: string } | { ok: false; reason: string };

/** How long finding an engine may take: an unreachable DOCKER_HOST would otherwise hang the run. */
const ENGINE_TIMEOUT_MS = 15_000;

let status: Promise<EngineStatus> | undefined;

/**
 * Ryuk, testcontainers' reaper, runs as a container from Docker Hub, which offline machines cannot
 * pull; the harness removes its own containers instead (cleanup.ts). Set before testcontainers
 * first looks for a reaper, unless the caller chose otherwise.
 */
export function disableRyuk(): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
}

/**
 * The Docker engine testcontainers finds (DOCKER_HOST, ~/.testcontainers.properties, the usual
 * sockets), asked once per process. testcontainers is loaded only here, on first use: a run on
 * local binaries never pays for it.
 */
export function engineStatus(): Promise<EngineStatus> {
  status ??= probe();
  return status;
}

/** The engine's client, or an error that says why there is none and what to do. */
export async function engine(): Promise<ContainerRuntimeClient> {
  const found = await engineStatus();
  if (!found.ok) throw new Error(`no Docker engine answers: ${found.reason}; start Docker (or point DOCKER_HOST at one)`);
  return found.client;
}

async function probe(): Promise<EngineStatus> {
  disableRyuk();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<EngineStatus>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${ENGINE_TIMEOUT_MS / 1000} s` }), ENGINE_TIMEOUT_MS);
    timer.unref();
  });
  const lookup = (async (): Promise<EngineStatus> => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      const client = await getContainerRuntimeClient();
      const runtime = client.info.containerRuntime;
      return { ok: true, client, description: `Docker ${runtime.serverVersion} on ${runtime.host}` };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  })();
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const images = new Map<string, Promise<void>>();

/**
 * Pulls `image` unless the engine has it (once per process): offline, only images already there
 * work, and the error says so.
 */
export function ensureImage(image: string): Promise<void> {
  let done = images.get(image);
  if (done === undefined) {
    done = (async () => {
      const client = await engine();
      const { ImageName } = await import('testcontainers');
      try {
        await client.image.pull(ImageName.fromString(image));
      } catch (error) {
        images.delete(image);
        throw new Error(`the image ${image} is not on this Docker engine and pulling it failed (${error instanceof Error ? error.message : String(error)}); pull or build it first (offline: docker/stand-ins/build.sh)`);
      }
    })();
    images.set(image, done);
  }
  return done;
}
