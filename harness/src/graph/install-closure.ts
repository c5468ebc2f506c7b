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
  devDependencies?: Record<string, string>;
  dev?: boolean;
}

/**
 * The packages `npm ci --omit=dev --workspace <folder>` installs, read from package-lock.json:
 * dependencies, optional dependencies and peers (optional ones too, when the lock has them)
 * transitively, each looked up in the dependent's own node_modules and then in each parent's, as
 * Node resolves them. npm also follows a workspace's devDependencies into any package that is not
 * marked `dev` in the lock, i.e. that another workspace needs in production; so do we, which is
 * why test tools are declared at the repository root (docs/architecture.md §6).
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
    const isWorkspace = !path.includes('node_modules/');
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {})]) {
      const target = locate(path, name);
      // An optional dependency for another platform is absent from the lock: nothing to install.
      if (target !== undefined) visit(target);
    }
    if (isWorkspace) {
      for (const name of Object.keys(entry.devDependencies ?? {})) {
        const target = locate(path, name);
        if (target !== undefined && packages[target]?.dev !== true) visit(target);
      }
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
