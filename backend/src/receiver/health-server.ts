import { createServer, type Server } from 'node:http';
import type { Logger } from '@iot/common/log';

/**
 * GET /health: 200 when healthy, 503 otherwise, with the parts as JSON, for container health
 * checks and the harness. Anything else is 404.
 */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  logger: Logger;
  health: () => { healthy: boolean } & Record<string, unknown>;
}): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/health') {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found; try GET /health' }));
      return;
    }
    const health = options.health();
    response.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  options.logger.info({ event: 'health_listening', port: typeof address === 'object' && address ? address.port : options.port }, 'health endpoint ready');
  return server;
}
