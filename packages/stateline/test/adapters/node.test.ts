import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withSession } from '../../src/adapters/node/index.js';
import { runAdapterSuite } from './adapter.case.js';
import { handlers } from './routes.js';

runAdapterSuite({
  name: 'node',
  start: async (sessions) => {
    const server = http.createServer(
      withSession(sessions, async (req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const q = (k: string) => url.searchParams.get(k) ?? '';
        const json = (v: unknown) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
        const route = `${req.method} ${url.pathname}`;
        if (route === 'GET /cart') return json(handlers.cart(req.session));
        if (route === 'POST /cart') return json(await handlers.add(req.session, q('item')));
        if (route === 'POST /login') return json(await handlers.login(req.session, q('user')));
        if (route === 'POST /logout') {
          await handlers.logout(req.session);
          return res.writeHead(204).end();
        }
        if (route === 'POST /slow') return json(await handlers.slow(req.session, q('gate')));
        if (route === 'POST /assign') return json(handlers.assign(req.session));
        if (route === 'POST /big') return json(handlers.big(req.session));
        res.writeHead(404).end();
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
});
