/** The CSRF option of every adapter, on a real server: the attack refused, the app's own calls pass. */
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { csrf as expressCsrf } from '../../src/adapters/express/index.js';
import { csrfPlugin } from '../../src/adapters/fastify/index.js';
import { csrf as honoCsrf } from '../../src/adapters/hono/index.js';
import { withCsrf } from '../../src/adapters/node/index.js';

interface Started {
  url: string;
  close(): Promise<void>;
}

const listen = async (server: http.Server): Promise<Started> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
};

const adapters: Record<string, () => Promise<Started>> = {
  express: async () => {
    const app = express();
    app.use(expressCsrf(), express.json());
    app.post('/api/logout-all', (_req, res) => void res.status(204).end());
    return listen(http.createServer(app));
  },
  fastify: async () => {
    const app = Fastify();
    await app.register(csrfPlugin, {});
    app.post('/api/logout-all', async (_r, reply) => reply.code(204).send());
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
  hono: async () => {
    const app = new Hono();
    app.use(honoCsrf());
    app.post('/api/logout-all', (c) => c.body(null, 204));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  node: async () =>
    listen(
      http.createServer(
        withCsrf({}, (_req, res) => {
          res.writeHead(204).end();
        }),
      ),
    ),
};

for (const [name, start] of Object.entries(adapters)) {
  describe(`csrf: ${name}`, () => {
    it('refuses cross-site and non-JSON unsafe requests with 403 SL_ERR_CSRF; same-origin JSON and curl pass', async () => {
      const s = await start();
      try {
        const post = (headers: Record<string, string>, body?: string) =>
          fetch(`${s.url}/api/logout-all`, { method: 'POST', headers, body });
        const attack = await post({ 'content-type': 'text/plain', origin: 'http://evil.example' }, 'x');
        assert.equal(attack.status, 403);
        assert.match(attack.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const doc = (await attack.json()) as { code: string; status: number; detail?: string };
        assert.equal(doc.code, 'SL_ERR_CSRF');
        assert.equal(doc.status, 403);
        const crossJson = await post(
          {
            'content-type': 'application/json',
            origin: 'http://evil.example',
            'sec-fetch-site': 'cross-site',
          },
          '{}',
        );
        assert.equal(crossJson.status, 403, 'cross-site even with JSON');
        const sameSitePort = await post(
          { 'content-type': 'application/json', origin: 'http://127.0.0.1:1' },
          '{}',
        );
        assert.equal(sameSitePort.status, 403, 'another port of the same host');
        const own = new URL(s.url).origin;
        for (const ok of [
          await post(
            { 'content-type': 'application/json', origin: own, 'sec-fetch-site': 'same-origin' },
            '{}',
          ),
          await post({ 'content-type': 'application/json', origin: own }, '{}'),
          await post({}),
          await post({ 'content-type': 'application/json' }, '{}'),
        ])
          assert.equal(ok.status, 204);
        const safe = await fetch(`${s.url}/api/logout-all`, { headers: { origin: 'http://evil.example' } });
        assert.notEqual(safe.status, 403, 'a GET is never refused');
      } finally {
        await s.close();
      }
    });
  });
}
