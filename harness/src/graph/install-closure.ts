import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
}

/**
 * The packages a production install of one workspace pulls (dependencies, optional dependencies
 * and required peers, transitively), read from package-lock.json the way Node resolves them: a
 * dependency is looked up in the dependent's own node_modules, then in each parent folder's.
 * Keys are lockfile paths; workspace packages appear under their folder name.
 */
export function productionClosure(root: string, workspaceFolder: string): Map<string, LockEntry> {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages = lock.packages;
  const found = new Map<string, LockEntry>();
  const locate = (from: string, name: string): string | undefined => {
    let base = from;
    for (;;) {
      const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
      if (packages[candidate] !== undefined) return candidate;
      if (base === '') return undefined;
      const cut = base.lastIndexOf('/node_modules/');
      base = cut === -1 ? '' : base.slice(0, cut);
    }
  };
  const visit = (path: string): void => {
    if (found.has(path)) return;
    let entry = packages[path];
    if (entry === undefined) throw new Error(`package-lock.json has no entry ${path}; run npm install`);
    if (entry.link === true && entry.resolved !== undefined) {
      path = entry.resolved;
      entry = packages[path]!;
      if (found.has(path)) return;
    }
    found.set(path, entry);
    const optionalPeers = entry.peerDependenciesMeta ?? {};
    const requiredPeers = Object.keys(entry.peerDependencies ?? {}).filter((name) => optionalPeers[name]?.optional !== true);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...requiredPeers]) {
      const target = locate(path, name);
      // An optional dependency for another platform is absent from the lock: nothing to install.
      if (target !== undefined) visit(target);
    }
  };
  visit(workspaceFolder);
  return found;
}

/** The package name of a lockfile path: `node_modules/a/node_modules/@s/b` → `@s/b`. */
export function lockPackageName(path: string, entry: { name?: string }): string {
  if (entry.name !== undefined) return entry.name;
  const cut = path.lastIndexOf('node_modules/');
  return cut === -1 ? path : path.slice(cut + 'node_modules/'.length);
}
