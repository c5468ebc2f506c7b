import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '@iot/harness/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TEMPLATES = ['balena/Dockerfile.node.template', 'balena/Dockerfile.redis.template', 'balena/grafana/Dockerfile.template'];
/** Official images the templates name that have no stand-in: Grafana cannot be built on this machine. */
const OFFICIAL_WITHOUT_STAND_IN = ['grafana/grafana:12.4.0'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** Instructions of a Dockerfile, continuation lines joined, comments left out. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('the Dockerfile templates, rendered for amd64 as balena renders them', () => {
  let bundle: { path: string; remove(): void };
  const rendered = (template: string) => readFileSync(join(bundle.path, 'rendered/amd64', template.replace(/\.template$/, '')), 'utf8');

  beforeAll(() => {
    bundle = makeTempDir('balena-render');
    execFileSync(join(root, 'balena/bundle.sh'), [bundle.path], { cwd: root, encoding: 'utf8' });
    execFileSync(join(root, 'balena/render-templates.sh'), [bundle.path, 'amd64'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  });
  afterAll(() => bundle.remove());

  it('are the files the compose file builds, and render with no template variable left', () => {
    const compose = parseYaml(readFileSync(join(root, 'balena/docker-compose.yml'), 'utf8')) as { services: Record<string, { build: { dockerfile: string } }> };
    const named = Object.values(compose.services).map((service) => service.build.dockerfile);
    expect([...new Set(named)].sort()).toEqual([...TEMPLATES].sort());
    expect(filesUnder(join(bundle.path, 'rendered/amd64')).sort()).toEqual(TEMPLATES.map((t) => t.replace(/\.template$/, '')).sort());
    for (const template of TEMPLATES) {
      const text = rendered(template);
      expect(text, template).not.toContain('%%');
      expect(text, template).toContain('ARG BALENA_ARCH=amd64');
      // balena's builder leaves comment lines alone; so does the renderer (livepush reads them).
      const comments = (t: string) => t.split('\n').filter((line) => line.startsWith('#'));
      expect(comments(text), template).toEqual(comments(readFileSync(join(root, template), 'utf8')));
    }
  });

  it('start from stand-in tags or official images only, never balenalib', () => {
    const standIns = execFileSync(join(root, 'docker/stand-ins/build.sh'), ['--list'], { encoding: 'utf8' }).trim().split('\n');
    for (const template of TEMPLATES) {
      const bases = instructions(rendered(template))
        .filter((line) => /^FROM\s/i.test(line))
        .map((line) => line.split(/\s+/)[1]!);
      expect(bases.length, template).toBeGreaterThan(0);
      for (const base of bases) {
        expect(base, template).not.toMatch(/balenalib/);
        expect([...standIns, ...OFFICIAL_WITHOUT_STAND_IN], `${template}: FROM ${base}`).toContain(base);
      }
    }
  });

  it('copy only files the bundle holds, check the architecture, and have a healthcheck', () => {
    for (const template of TEMPLATES) {
      const steps = instructions(rendered(template));
      for (const copy of steps.filter((line) => /^COPY\s/i.test(line) && !line.includes('--from='))) {
        const sources = copy.split(/\s+/).slice(1, -1);
        for (const source of sources) expect(existsSync(join(bundle.path, source)), `${template}: ${copy}`).toBe(true);
      }
      expect(steps, template).toContain('RUN sh /tmp/check-arch.sh "$BALENA_ARCH" && rm /tmp/check-arch.sh');
      expect(steps.some((line) => line.startsWith('HEALTHCHECK ')), template).toBe(true);
    }
    // The Node image's run stage gets node_modules from the build stage only, never from the host.
    expect(instructions(rendered(TEMPLATES[0]!)).filter((line) => line.includes('node_modules'))).toEqual(['COPY --from=build /app/node_modules node_modules']);
  });
});

describe('the renderer', () => {
  const render = (templateText: string) => {
    const bundle = makeTempDir('balena-render');
    try {
      mkdirSync(join(bundle.path, 'balena'));
      writeFileSync(join(bundle.path, 'balena/Dockerfile.x.template'), templateText);
      const run = spawnSync(join(root, 'balena/render-templates.sh'), [bundle.path, 'aarch64'], { encoding: 'utf8' });
      const out = join(bundle.path, 'rendered/aarch64/balena/Dockerfile.x');
      return { status: run.status, stderr: run.stderr, text: existsSync(out) ? readFileSync(out, 'utf8') : '' };
    } finally {
      bundle.remove();
    }
  };

  it('substitutes the architecture and machine name on instruction lines and leaves comments alone', () => {
    const result = render('# %%BALENA_ARCH%% in a comment\nFROM debian\nRUN echo %%BALENA_ARCH%% %%BALENA_MACHINE_NAME%% %%RESIN_ARCH%%\n');
    expect(result.status).toBe(0);
    expect(result.text).toBe('# %%BALENA_ARCH%% in a comment\nFROM debian\nRUN echo aarch64 raspberrypi4-64 aarch64\n');
  });

  it('fails on what balena would fail on or run as code', () => {
    const unknown = render('FROM debian\nRUN echo %%BALENA_SERVICE_NAME%%\n');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('Dockerfile.x.template:2: BALENA_SERVICE_NAME is not rendered here');
    const code = render('FROM debian\nRUN echo "<% print(1) %>"\n');
    expect(code.status).not.toBe(0);
    expect(code.stderr).toContain('would run as template code');
  });
});

describe('the architecture guard (balena/check-arch.sh)', () => {
  const here = ({ x64: 'amd64', arm64: 'aarch64' } as Record<string, string>)[process.arch];
  const check = (arch: string) => spawnSync('sh', [join(root, 'balena/check-arch.sh'), arch], { encoding: 'utf8' });

  it.skipIf(here === undefined)('passes binaries of the fleet architecture and refuses others', () => {
    expect(check(here!).status).toBe(0);
    const other = check(here === 'amd64' ? 'aarch64' : 'amd64');
    expect(other.status).toBe(1);
    expect(other.stderr).toContain('the builder pulled the wrong variant');
  });

  it('passes an unrendered template and refuses the 32-bit fleets Node.js 24 has no image for', () => {
    expect(check('%%BALENA_ARCH%%').status).toBe(0);
    for (const arch of ['armv7hf', 'rpi', 'i386']) {
      const result = check(arch);
      expect(result.status, arch).toBe(1);
      expect(result.stderr, arch).toContain('choose a 64-bit device type');
    }
    expect(check('sparc').stderr).toContain('unknown BALENA_ARCH');
  });
});
