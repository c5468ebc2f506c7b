import { createServer, type Server } from 'node:http';
import type { Logger } from '@iot/common/log';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus-text.ts';

/**
 * GET /health: 200 when healthy, 503 otherwise, with the parts as JSON, for container health
 * checks and the harness. GET /metrics (when given): Prometheus text for scraping. Anything else
 * is 404.
 */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  logger: Logger;
  health: () => { healthy: boolean } & Record<string, unknown>;
  metrics?: () => string;
}): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://receiver').pathname;
    if (request.method === 'GET' && path === '/health') {
      const health = options.health();
      response.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health));
    } else if (request.method === 'GET' && path === '/metrics' && options.metrics !== undefined) {
      response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(options.metrics());
    } else {
      const routes = options.metrics === undefined ? 'GET /health' : 'GET /health or GET /metrics';
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `not found; try ${routes}` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  options.logger.info({ event: 'health_listening', port: typeof address === 'object' && address ? address.port : options.port }, 'health endpoint ready');
  return server;
}
