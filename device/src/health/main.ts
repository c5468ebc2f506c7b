import { readFileSync } from 'node:fs';
import { checkHealth, HEALTH_TARGETS, type HealthTarget, targetOfCommandLine } from './device-health.ts';

/**
 * The device image's HEALTHCHECK: `node device/src/health/main.ts [service]`. Without an argument
 * it checks the service the container runs (PID 1's command line), so one image-level
 * healthcheck fits every service the compose files start from it. Prints one line (balena shows
 * the first 100 characters) and exits 0 when healthy, 1 when not, 2 on a usage mistake.
 */
function usage(message: string): never {
  process.stderr.write(`health: ${message}\nusage: node device/src/health/main.ts [${HEALTH_TARGETS.join('|')}]\n`);
  process.exit(2);
}

function containerTarget(): HealthTarget | undefined {
  try {
    return targetOfCommandLine(readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' '));
  } catch {
    return undefined;
  }
}

const [given, ...rest] = process.argv.slice(2);
if (rest.length > 0) usage('at most one service expected');
if (given !== undefined && !(HEALTH_TARGETS as readonly string[]).includes(given)) usage(`unknown service ${JSON.stringify(given)}`);
const target = (given as HealthTarget | undefined) ?? containerTarget();
if (target === undefined) usage('PID 1 runs none of the device services; name the service to check');
const verdict = await checkHealth(target, process.env);
process.stdout.write(`${target}: ${verdict.message}\n`);
process.exit(verdict.healthy ? 0 : 1);
