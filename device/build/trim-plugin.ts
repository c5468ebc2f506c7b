import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

/**
 * Parts of third-party packages a device never runs, replaced by small stand-ins so they take
 * no room in the bundle (and in memory: Node keeps a module's whole source text while it runs).
 * Each one is safe only because of how the device uses the package, said beside it; a stand-in
 * that is reached anyway throws, naming what is missing, rather than misbehaving, or loads the
 * original then.
 *
 * The build fails when a replaced file is no longer where this expects it (a package update
 * moved it), so a stand-in never silently stops applying.
 */
interface Replacement {
  /** Path inside node_modules of the file replaced. */
  file: string;
  /** Why a device never needs it. */
  why: string;
  contents: string;
}

/** Marks a require of the original file from its stand-in, which esbuild then bundles as it is. */
const ORIGINAL = '?device-original';

const missing = (what: string) => `throw new Error(${JSON.stringify(`${what} is not part of the device build (device/build/trim-plugin.ts)`)});`;

export const REPLACEMENTS: readonly Replacement[] = [
  {
    file: 'zod/v4/locales/index.js',
    why: 'error messages come in English only (zod configures `en` itself; nothing reads z.locales)',
    contents: "export { default as en } from './en.js';\n",
  },
  {
    file: 'mqtt/build/lib/connect/ws.js',
    why: 'the uplink speaks mqtt:// and mqtts:// only (common/src/config/mqtt-env.ts), never WebSockets',
    contents: `"use strict";\nconst unavailable = () => { ${missing('MQTT over WebSockets')} };\nexports.streamBuilder = unavailable;\nexports.browserStreamBuilder = unavailable;\nexports.default = unavailable;\n`,
  },
  {
    file: 'mqtt/build/lib/connect/socks.js',
    why: 'the uplink never sets a SOCKS proxy',
    contents: `"use strict";\nexports.default = () => { ${missing('MQTT through a SOCKS proxy')} };\n`,
  },
  {
    file: 'mqtt/build/lib/topic-alias-send.js',
    why: 'MQTT 5 topic aliases for sending, which the uplink never asks for: the original (with its LRU cache, which loads node:perf_hooks) is loaded when one is made',
    contents: `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = function TopicAliasSend(...args) {\n  const Original = require(${JSON.stringify(`./topic-alias-send.js${ORIGINAL}`)}).default;\n  return new Original(...args);\n};\n`,
  },
  {
    file: 'ioredis/built/cluster/index.js',
    why: 'a device talks to its own standalone Redis (device/src/redis-connection.ts), never to a Redis Cluster',
    contents: `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nclass Cluster { constructor() { ${missing('Redis Cluster')} } }\nexports.default = Cluster;\n`,
  },
];

export function trimPlugin(nodeModules: string): Plugin {
  for (const { file } of REPLACEMENTS) {
    if (!existsSync(join(nodeModules, file))) throw new Error(`device build: ${file} is not in ${nodeModules}; update device/build/trim-plugin.ts for the new package version`);
  }
  const byPath = new Map(REPLACEMENTS.map((r) => [join(nodeModules, r.file), r]));
  return {
    name: 'device-trim',
    setup(build) {
      build.onResolve({ filter: /\?device-original$/ }, (args) => ({ path: join(args.resolveDir, args.path.slice(0, -ORIGINAL.length)), suffix: ORIGINAL }));
      build.onLoad({ filter: /[\\/]node_modules[\\/](zod|mqtt|ioredis)[\\/]/ }, (args) => {
        if (args.suffix === ORIGINAL) return undefined;
        const replacement = byPath.get(args.path);
        if (replacement === undefined) return undefined;
        return { contents: replacement.contents, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}
