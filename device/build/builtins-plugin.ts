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

export function builtinsPlugin(): Plugin {
  return {
    name: 'device-builtins-required',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
        if (!BUILTINS.has(args.path)) return undefined;
        // The stand-in's own require() stays a plain external require.
        if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
        return { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});\n`, loader: 'js' }));
    },
  };
}
