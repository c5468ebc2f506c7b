import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** One static file served from memory. */
export interface ClientAsset {
  body: Buffer;
  contentType: string;
  /** Strong ETag: the quoted SHA-256 of the body. */
  etag: string;
}

export interface ClientAssets {
  js: ClientAsset;
  css: ClientAsset;
}

const CLIENT_DIR = fileURLToPath(new URL('./client', import.meta.url));

function asset(body: Buffer, contentType: string): ClientAsset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

function describe(messages: readonly EsbuildMessage[]): string {
  return messages.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('\n');
}

/** One entry point bundled in memory; @throws Error naming each file, line and problem. */
async function bundle(entry: string, options: { format?: 'esm'; target?: string; platform?: 'browser' }): Promise<Buffer> {
  try {
    const result = await build({ entryPoints: [entry], bundle: true, write: false, minify: true, legalComments: 'none', logLevel: 'silent', ...options });
    const output = result.outputFiles[0];
    if (output === undefined) throw new Error('esbuild produced no output');
    return Buffer.from(output.contents);
  } catch (error) {
    const errors = (error as { errors?: EsbuildMessage[] }).errors;
    const detail = errors !== undefined && errors.length > 0 ? describe(errors) : (error as Error).message;
    throw new Error(`web admin client bundle failed:\n${detail}`, { cause: error });
  }
}

/**
 * The browser code (`client/main.ts`) and styles (`client/app.css` with its imports), each
 * bundled and minified in memory by esbuild once at start: no build step, no files written.
 * @throws Error naming each file, line and problem when the client does not bundle.
 */
export async function buildClientAssets(clientDir: string = CLIENT_DIR): Promise<ClientAssets> {
  const [js, css] = await Promise.all([
    bundle(`${clientDir}/main.ts`, { format: 'esm', target: 'es2022', platform: 'browser' }),
    bundle(`${clientDir}/app.css`, {}),
  ]);
  return { js: asset(js, 'text/javascript; charset=utf-8'), css: asset(css, 'text/css; charset=utf-8') };
}
