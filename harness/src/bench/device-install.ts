import { execFileSync, execSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../processes/temp-dir.ts';
import { progress } from './stats.ts';

/**
 * What a production install of the device package pulls, for one or more git revisions:
 *
 *   npm run bench:device-install -- [--rev HEAD] [--rev <older commit> ...]
 *
 * Each revision is exported with `git archive` into a temp directory and installed there the way
 * the device image does (`npm ci --omit=dev --workspace @iot/device`), with `--ignore-scripts` so
 * that native addons are counted but not compiled (the sizes are download sizes, not built
 * sizes). Counted: package folders under node_modules (workspace links excluded) and their
 * apparent size in bytes. Packages that belong to the backend are listed by name.
 */
const BACKEND_ONLY = ['typeorm', 'express', 'aedes', 'mysql2', 'better-sqlite3', 'esbuild', 'playwright-core'];
const root = fileURLToPath(new URL('../../..', import.meta.url));

function revisions(): string[] {
  const revs: string[] = [];
  for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] === '--rev') {
      const rev = process.argv[i + 1];
      if (rev === undefined) {
        process.stderr.write('--rev needs a git revision\n');
        process.exit(2);
      }
      revs.push(rev);
      i++;
    }
  }
  return revs.length > 0 ? revs : ['HEAD'];
}

interface Installed {
  packages: number;
  bytes: number;
  backendOnly: string[];
}

function measure(modules: string): Installed {
  const found: Installed = { packages: 0, bytes: 0, backendOnly: [] };
  const visitPackages = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      const path = join(dir, entry);
      if (entry.startsWith('@')) for (const scoped of readdirSync(path)) visitPackage(join(path, scoped), `${entry}/${scoped}`);
      else visitPackage(path, entry);
    }
  };
  const visitPackage = (path: string, name: string): void => {
    // Workspace packages are symlinks into the checkout: the device's own code, not a download.
    if (lstatSync(path).isSymbolicLink() || !existsSync(join(path, 'package.json'))) return;
    found.packages++;
    if (BACKEND_ONLY.includes(name)) found.backendOnly.push(name);
    visitPackages(join(path, 'node_modules'));
  };
  visitPackages(modules);
  const sizeOf = (path: string): number => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return 0;
    if (!stat.isDirectory()) return stat.size;
    return readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0);
  };
  found.bytes = existsSync(modules) ? sizeOf(modules) : 0;
  return found;
}

const results: Record<string, Installed & { commit: string }> = {};
for (const rev of revisions()) {
  const commit = execFileSync('git', ['rev-parse', '--short', rev], { cwd: root, encoding: 'utf8' }).trim();
  const dir = makeTempDir('device-install');
  try {
    progress(`${rev} (${commit}): exporting and installing the device package…`);
    execSync(`git archive ${commit} | tar -x -C ${JSON.stringify(dir.path)}`, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('npm', ['ci', '--omit=dev', '--workspace=@iot/device', '--include-workspace-root=false', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir.path,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    results[rev] = { commit, ...measure(join(dir.path, 'node_modules')) };
  } finally {
    dir.remove();
  }
}
process.stdout.write('| revision | packages | installed size | backend libraries |\n| --- | --- | --- | --- |\n');
for (const [rev, r] of Object.entries(results)) {
  process.stdout.write(`| ${rev} (${r.commit}) | ${r.packages} | ${(r.bytes / 1e6).toFixed(1)} MB | ${r.backendOnly.join(', ') || 'none'} |\n`);
}
process.stdout.write(`${JSON.stringify(results)}\n`);
