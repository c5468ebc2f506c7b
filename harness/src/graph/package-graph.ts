import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { importSpecifiers } from './import-scan.ts';

/**
 * The workspace packages and their allowed production dependencies, lowest layer first
 * (docs/architecture.md §6). A package may depend only on packages listed here for it; the harness
 * and the scenarios sit on top, and no production package may depend on them.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  '@iot/common': [],
  '@iot/hardware': [],
  '@iot/simulator': ['@iot/common', '@iot/hardware'],
  '@iot/device': ['@iot/common', '@iot/hardware', '@iot/simulator'],
  '@iot/backend': ['@iot/common'],
  '@iot/harness': ['@iot/common', '@iot/hardware', '@iot/simulator', '@iot/device', '@iot/backend'],
  '@iot/features': ['@iot/common', '@iot/hardware', '@iot/simulator', '@iot/device', '@iot/backend', '@iot/harness'],
};

/** Packages only tests may use: a test of any package may start real servers through the harness. */
export const TEST_ONLY_PACKAGES: readonly string[] = ['@iot/harness', '@iot/features'];

export interface Workspace {
  name: string;
  dir: string;
  exports: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

export interface SourceFile {
  path: string;
  workspace: Workspace;
  /** Under the package's `src/` (shipped), or a test, benchmark fixture or config. */
  production: boolean;
  specifiers: string[];
}

export interface GraphReport {
  workspaces: Workspace[];
  files: SourceFile[];
  problems: string[];
  /** Production package edges as declared (from → to). */
  packageEdges: [string, string][];
  /** Groups of files that import each other in a circle. */
  fileCycles: string[][];
}

export function readWorkspaces(root: string): Workspace[] {
  const rootJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  return rootJson.workspaces.map((folder) => {
    const json = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as {
      name: string;
      exports?: Record<string, string>;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    return {
      name: json.name,
      dir: resolve(root, folder),
      exports: json.exports ?? {},
      dependencies: { ...json.dependencies, ...json.optionalDependencies, ...json.peerDependencies },
      devDependencies: json.devDependencies ?? {},
    };
  });
}

function sourceFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFilesUnder(path));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Reads every workspace's package.json and every TypeScript file's imports, and reports what breaks
 * the one-way package graph: an undeclared or disallowed dependency, a production import of a
 * test-only package, a relative import that leaves its package, a specifier a package does not
 * export, a cycle between packages, and a cycle between files.
 */
export function analysePackageGraph(root: string, rootDevDependencies?: Record<string, string>): GraphReport {
  const workspaces = readWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const rootJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const toolDependencies = rootDevDependencies ?? rootJson.devDependencies ?? {};
  const problems: string[] = [];
  const files: SourceFile[] = [];
  const rel = (path: string) => relative(root, path).split(sep).join('/');

  const packageEdges: [string, string][] = [];
  for (const workspace of workspaces) {
    const allowed = LAYERS[workspace.name];
    if (allowed === undefined) {
      problems.push(`${workspace.name}: not in the layer table of harness/src/graph/package-graph.ts; give it a place`);
      continue;
    }
    for (const dep of Object.keys(workspace.dependencies)) {
      if (!dep.startsWith('@iot/')) continue;
      packageEdges.push([workspace.name, dep]);
      if (!allowed.includes(dep)) problems.push(`${workspace.name} depends on ${dep}: not allowed (it may depend on ${allowed.join(', ') || 'no workspace'})`);
    }
    for (const dep of Object.keys(workspace.devDependencies)) {
      // npm installs a workspace's devDependencies in a production install of that workspace when
      // another workspace needs them in production (docs/architecture.md §6).
      if (!dep.startsWith('@types/')) {
        problems.push(`${workspace.name} has a dev dependency on ${dep}: declare test tools in the root package.json, or a production install of ${workspace.name} may pull it`);
      }
    }
  }
  for (const cycle of stronglyConnected(packageEdges)) problems.push(`package cycle: ${cycle.join(' → ')}`);

  const resolveExport = (specifier: string): string | undefined => {
    const target = byName.get(packageNameOf(specifier));
    if (target === undefined) return undefined;
    const sub = `.${specifier.slice(target.name.length)}`;
    const file = target.exports[sub];
    return file === undefined ? undefined : resolve(target.dir, file);
  };

  const fileEdges: [string, string][] = [];
  for (const workspace of workspaces) {
    for (const path of sourceFilesUnder(workspace.dir)) {
      // Shipped code lives under src/; tests, contract suites and configs may use the root's tools.
      const production = rel(path).startsWith(`${rel(workspace.dir)}/src/`);
      const specifiers = importSpecifiers(readFileSync(path, 'utf8'));
      files.push({ path: rel(path), workspace, production, specifiers });
      for (const specifier of specifiers) {
        const where = `${rel(path)}: import '${specifier}'`;
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(path), specifier);
          if (!target.startsWith(workspace.dir + sep)) {
            problems.push(`${where} leaves ${workspace.name}; import the other package by name`);
          } else if (existsSync(target)) {
            fileEdges.push([rel(path), rel(target)]);
          } else {
            problems.push(`${where}: no such file`);
          }
          continue;
        }
        if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
        const name = packageNameOf(specifier);
        if (name.startsWith('@iot/')) {
          if (name === workspace.name) {
            problems.push(`${where}: a package imports itself by name; use a relative path`);
            continue;
          }
          const file = resolveExport(specifier);
          if (file === undefined) problems.push(`${where}: ${name} does not export it`);
          else fileEdges.push([rel(path), rel(file)]);
        }
        const declared = name in workspace.dependencies;
        const declaredForTests = declared || name in workspace.devDependencies || name in toolDependencies;
        if (production && TEST_ONLY_PACKAGES.includes(name)) problems.push(`${where}: production code must not use ${name}`);
        else if (production && !declared) problems.push(`${where}: ${name} is not in ${workspace.name}'s dependencies`);
        else if (!production && !declaredForTests) problems.push(`${where}: ${name} is not declared in ${workspace.name} or the root`);
      }
    }
  }
  const fileCycles = stronglyConnected(fileEdges);
  for (const cycle of fileCycles) problems.push(`file cycle: ${cycle.join(' → ')}`);
  return { workspaces, files, problems, packageEdges, fileCycles };
}

/** Tarjan's algorithm: every group of two or more nodes that reach each other, and self-loops. */
export function stronglyConnected(edges: readonly (readonly [string, string])[]): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== node);
      const selfLoop = next.get(node)!.includes(node);
      if (group.length > 1 || selfLoop) groups.push(group.reverse());
    }
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return groups;
}
