import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findFreePort } from '@iot/harness/processes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BalenaSupervisorRebooter, CallbackRebooter } from '../src/uplink/rebooter.ts';

describe('BalenaSupervisorRebooter against a local HTTP server', () => {
  let server: Server;
  let address: string;
  let requests: { method: string | undefined; url: string | undefined }[];
  let reply: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ method: req.method, url: req.url });
      reply(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    requests = [];
    reply = (_req, res) => {
      res.writeHead(202).end('OK');
    };
  });

  it('POSTs /v1/reboot with the api key as a query parameter', async () => {
    await new BalenaSupervisorRebooter({ address: `${address}/`, apiKey: 'k3y&x=1' }).reboot();
    expect(requests).toEqual([{ method: 'POST', url: '/v1/reboot?apikey=k3y%26x%3D1' }]);
  });

  it('rejects on HTTP 500 with the status and body, without the api key', async () => {
    reply = (_req, res) => {
      res.writeHead(500).end('Internal Server Error: update in progress');
    };
    const attempt = new BalenaSupervisorRebooter({ address, apiKey: 'topsecret' }).reboot();
    await expect(attempt).rejects.toThrow(/HTTP 500.*update in progress/);
    await attempt.catch((error: Error) => expect(error.message).not.toContain('topsecret'));
  });

  it('rejects when the supervisor does not answer in time', async () => {
    reply = () => {}; // never answers
    await expect(new BalenaSupervisorRebooter({ address, apiKey: 'k', timeoutMs: 100 }).reboot()).rejects.toThrow(/no answer within 100 ms/);
  });

  it('rejects when nothing listens at the address', async () => {
    const closedPort = await findFreePort();
    await expect(new BalenaSupervisorRebooter({ address: `http://127.0.0.1:${closedPort}`, apiKey: 'k' }).reboot()).rejects.toThrow(/could not be reached.*ECONNREFUSED/);
  });
});

describe('CallbackRebooter', () => {
  it('calls the injected function and passes its failure on', async () => {
    let calls = 0;
    await new CallbackRebooter(() => {
      calls++;
    }).reboot();
    expect(calls).toBe(1);
    await expect(
      new CallbackRebooter(async () => {
        throw new Error('restart failed');
      }).reboot(),
    ).rejects.toThrow('restart failed');
  });
});
