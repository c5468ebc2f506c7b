import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { importSpecifiers } from '../src/graph/import-scan.ts';
import { lockPackageName, productionClosure } from '../src/graph/install-closure.ts';
import { analysePackageGraph, stronglyConnected } from '../src/graph/package-graph.ts';
import { makeTempDir } from '../src/processes/index.ts';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the repository', () => {
  it('has a one-way package graph: declared, allowed dependencies, no relative imports across packages, no cycles', () => {
    const report = analysePackageGraph(repositoryRoot);
    expect(report.problems).toEqual([]);
    // The scan saw the whole repository, not an empty folder.
    expect(report.files.length).toBeGreaterThan(200);
    expect(report.workspaces.map((w) => w.name)).toContain('@iot/device');
  });

  it('installs the device without any database, web or broker library', () => {
    const names = [...productionClosure(repositoryRoot, 'device')].map(([path, entry]) => lockPackageName(path, entry));
    const backendOnly = ['typeorm', 'express', 'aedes', 'mysql2', 'better-sqlite3', 'esbuild', 'playwright-core', '@iot/backend', '@iot/harness'];
    expect(names.filter((name) => backendOnly.includes(name))).toEqual([]);
    // What the device does need is there (the closure is not trivially empty).
    expect(names).toEqual(expect.arrayContaining(['ioredis', 'mqtt', 'zod', '@iot/common', '@iot/hardware', '@iot/simulator']));
  });
});

describe('the graph check', () => {
  const made: { remove(): void }[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) dir.remove();
  });

  /** A throw-away repository with the given files, each a path and its content. */
  function fakeRepository(files: Record<string, unknown>): string {
    const dir = makeTempDir('graph');
    made.push(dir);
    const root = dir.path;
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return root;
  }
  const pkg = (name: string, dependencies: Record<string, string> = {}) => ({ name, exports: { '.': './src/index.ts' }, dependencies });

  it('reports an upward dependency, a relative import into another package and a cycle of files', () => {
    const root = fakeRepository({
      'package.json': { workspaces: ['common', 'device', 'backend'] },
      'common/package.json': pkg('@iot/common', { '@iot/device': '*' }),
      'common/src/index.ts': "import { start } from '@iot/device';\nexport const x = start;\n",
      'device/package.json': pkg('@iot/device', { '@iot/common': '*' }),
      'device/src/index.ts': "import { a } from './a.ts';\nimport { y } from '../../backend/src/index.ts';\nexport const start = a + y;\n",
      'device/src/a.ts': "import { start } from './index.ts';\nexport const a = 1;\nexport const b = start;\n",
      'backend/package.json': pkg('@iot/backend'),
      'backend/src/index.ts': "import express from 'express';\nexport const y = express;\n",
    });
    const problems = analysePackageGraph(root).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('@iot/common depends on @iot/device: not allowed'),
        expect.stringContaining('package cycle'),
        expect.stringContaining("device/src/index.ts: import '../../backend/src/index.ts' leaves @iot/device"),
        expect.stringMatching(/file cycle: .*device\/src\/(index|a)\.ts/),
        expect.stringContaining("backend/src/index.ts: import 'express': express is not in @iot/backend's dependencies"),
      ]),
    );
  });

  it('refuses the harness in production code but allows it in tests', () => {
    const root = fakeRepository({
      'package.json': { workspaces: ['device', 'harness'], devDependencies: { '@iot/harness': '*' } },
      'device/package.json': pkg('@iot/device'),
      'device/src/index.ts': "import { h } from '@iot/harness';\nexport const d = h;\n",
      'device/test/device.test.ts': "import { h } from '@iot/harness';\nexport const t = h;\n",
      'harness/package.json': pkg('@iot/harness'),
      'harness/src/index.ts': 'export const h = 1;\n',
    });
    const problems = analysePackageGraph(root).problems;
    expect(problems).toEqual([expect.stringContaining("device/src/index.ts: import '@iot/harness': production code must not use @iot/harness")]);
  });

  it('refuses a workspace dev dependency, which npm would install with the workspace in production', () => {
    const root = fakeRepository({
      'package.json': { workspaces: ['device'] },
      'device/package.json': { ...pkg('@iot/device'), devDependencies: { aedes: '*', '@types/node': '*' } },
      'device/src/index.ts': 'export const d = 1;\n',
    });
    expect(analysePackageGraph(root).problems).toEqual([expect.stringContaining('@iot/device has a dev dependency on aedes')]);
  });

  it('finds static, type-only, re-exported and dynamic imports, and none inside comments or template strings', () => {
    const source = [
      "import type { A } from './a.ts';",
      'import {',
      '  b,',
      '  type C,',
      "} from '@iot/common/log';",
      "export * from './d.ts';",
      "import './side-effect.ts';",
      "const e = await import('./e.ts');",
      "// import { f } from './f.ts';",
      "/* export { g } from './g.ts'; */",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: this string is TypeScript source with a template literal, the scanner's input.
      "const message = `import '${name}'`;",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.ts', '@iot/common/log', './d.ts', './side-effect.ts', './e.ts']);
  });

  it('finds cycles and self-imports, and nothing in a tree', () => {
    expect(stronglyConnected([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])).toEqual([['a', 'b', 'c']]);
    expect(stronglyConnected([['a', 'a']])).toEqual([['a']]);
    expect(stronglyConnected([['a', 'b'], ['a', 'c'], ['b', 'c']])).toEqual([]);
  });
});
