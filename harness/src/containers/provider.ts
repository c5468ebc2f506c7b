import { type EngineStatus, engineStatus } from './engine.ts';

/**
 * Where the harness's real services (redis-server, mariadbd, mosquitto) come from:
 * `processes`: the binaries on PATH; `containers`: the official images through testcontainers;
 * `auto`: the binary when it is installed, else a container when a Docker engine answers.
 */
export type ServicesProvider = 'processes' | 'containers' | 'auto';
/** What a server actually runs on once chosen. */
export type ServiceBackend = 'processes' | 'containers';

export const SERVICES_ENV = 'IOT_TEST_SERVICES';
const CHOICES: readonly ServicesProvider[] = ['processes', 'containers', 'auto'];

/** IOT_TEST_SERVICES, `auto` when unset or empty; anything else is a mistake, said clearly. */
export function servicesProviderFromEnv(env: NodeJS.ProcessEnv = process.env): ServicesProvider {
  const value = env[SERVICES_ENV]?.trim() ?? '';
  if (value === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(value)) return value as ServicesProvider;
  throw new Error(`${SERVICES_ENV} must be one of ${CHOICES.join(', ')} (got ${JSON.stringify(value)})`);
}

/** One of the services, as the choice and its error messages need it. */
export interface ServiceRequest {
  /** The binary, e.g. `redis-server`. */
  binary: string;
  /** Whether that binary is installed here. */
  binaryFound: boolean;
  /** How to install it, e.g. `install it with: sudo apt-get install redis-server`. */
  installHint: string;
  /** The official image used instead, e.g. `redis:7-bookworm`. */
  image: string;
}

/** The sentence a missing binary gets: how to install it, and the Docker alternative. */
export function notFoundMessage(request: Pick<ServiceRequest, 'binary' | 'installHint' | 'image'>, where = 'on PATH'): string {
  return `${request.binary} was not found ${where}; ${request.installHint}, or run it in Docker: with a Docker engine running, ${SERVICES_ENV}=containers (or the default, auto) starts it from the image ${request.image}`;
}

/**
 * Chooses processes or containers for one server; throws with what to do when neither works.
 * `probe` asks for the Docker engine (only when the choice depends on it).
 */
export async function chooseBackend(provider: ServicesProvider, request: ServiceRequest, probe: () => Promise<EngineStatus> = engineStatus): Promise<ServiceBackend> {
  if (provider === 'processes') {
    if (!request.binaryFound) throw new Error(`${SERVICES_ENV}=processes: ${notFoundMessage(request)}`);
    return 'processes';
  }
  if (provider === 'auto' && request.binaryFound) return 'processes';
  const engine = await probe();
  if (engine.ok) return 'containers';
  if (provider === 'containers') {
    throw new Error(
      `${SERVICES_ENV}=containers, but no Docker engine answers (${engine.reason}); start Docker (or point DOCKER_HOST at one), or set ${SERVICES_ENV}=processes to use the installed ${request.binary}`,
    );
  }
  throw new Error(`${notFoundMessage(request)} (no Docker engine answers either: ${engine.reason})`);
}
