import { builtinModules } from 'node:module';
import type { Plugin } from 'esbuild';

/**
 * Node's built-in modules, imported by our ES modules, are required instead, when the importing
 * module first runs.
 *
 * Why: in one bundle every `import … from 'node:x'` becomes a static import at the top of the
 * file, even in a module the sources load only on demand (`await import(...)`: the simulator's
 * remote hardware, the Pi drivers). And an ES import of a built-in builds its namespace from all
 * its exports, running every lazy getter: `node:http` then loads undici and http2 (about 16 MB
 * of RSS on Node 24), `node:crypto` the whole Web Crypto API. `require()` returns the exports
 * object as it is, and esbuild wraps it so names are read only when used.
 */
const BUILTINS = new Set(builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`])));
const NAMESPACE = 'device-builtin';

/**
 * Built-ins that bundled packages require as they load, for what a device seldom or never does:
 * TLS (ioredis; MQTT.js, for mqtts:// only) and crypto (ioredis, for Lua scripts). Loading
 * node:tls costs about 8 MB of RSS, node:crypto about 4. Such a require gets a stand-in that
 * loads the module on the first use of any of its exports.
 */
const ON_FIRST_USE = new Set(['tls', 'node:tls', 'crypto', 'node:crypto']);
const ON_FIRST_USE_NAMESPACE = 'device-builtin-on-first-use';

/** A CommonJS module standing for built-in `name`; `__esModule` is answered without loading, as TypeScript's import helpers ask for it at once. */
function onFirstUse(name: string): string {
  return `let real;
const load = () => (real ??= require(${JSON.stringify(name)}));
module.exports = new Proxy({}, {
  get: (_, key) => (key === '__esModule' ? undefined : load()[key]),
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => {
    const descriptor = Object.getOwnPropertyDescriptor(load(), key);
    return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
  },
});
`;
}

export function builtinsPlugin(): Plugin {
  return {
    name: 'device-builtins-required',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
        if (!BUILTINS.has(args.path)) return undefined;
        const name = args.path.startsWith('node:') ? args.path : `node:${args.path}`;
        if (args.kind === 'require-call' && ON_FIRST_USE.has(args.path) && args.namespace === 'file' && /[\\/]node_modules[\\/]/.test(args.importer)) {
          return { path: name, namespace: ON_FIRST_USE_NAMESPACE };
        }
        // The stand-ins' own require() stays a plain external require.
        if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
        return { path: name, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});\n`, loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: ON_FIRST_USE_NAMESPACE }, (args) => ({ contents: onFirstUse(args.path), loader: 'js' }));
    },
  };
}
