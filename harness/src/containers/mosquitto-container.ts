import { existsSync, statSync } from 'node:fs';
import { basename, dirname, sep } from 'node:path';

/** Where the official image keeps Mosquitto's plugins (the stand-in links them there too). */
const IMAGE_PLUGIN_DIR = '/usr/lib';

/**
 * Mosquitto directives as the process version gets them, made to work in the image: a `plugin`
 * is a shared library built for the host, so the image's own copy of the same plugin (by file
 * name) is loaded instead; every other absolute path that exists here (password file, ACL, the
 * plugin's config file, certificates) is bind-mounted at the same path, its directory rather than
 * the file, as a plugin may replace its file by renaming.
 */
export function containerConf(directives: string): { conf: string; binds: { source: string; target: string }[] } {
  const dirs = new Set<string>();
  const lines = directives.split('\n').map((line) => {
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name === 'plugin' || name === 'global_plugin' || name === 'auth_plugin') {
      const path = rest.join(' ');
      return path.startsWith('/') ? `${name} ${IMAGE_PLUGIN_DIR}/${basename(path)}` : line;
    }
    if (name === undefined || name.startsWith('#')) return line;
    for (const token of rest) {
      if (!token.startsWith('/') || !existsSync(token)) continue;
      dirs.add(statSync(token).isDirectory() ? token : dirname(token));
    }
    return line;
  });
  // A directory inside another one already mounted needs no mount of its own.
  const sorted = [...dirs].sort();
  const mounts = sorted.filter((dir, i) => !sorted.slice(0, i).some((outer) => dir.startsWith(outer.endsWith(sep) ? outer : `${outer}${sep}`)));
  return { conf: lines.join('\n'), binds: mounts.map((dir) => ({ source: dir, target: dir })) };
}
