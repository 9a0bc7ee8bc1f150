import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exportHaproxy, exportNginx, type Balance } from '../src/index.js';
import { startBackends } from './support/backend.js';
import { Client, tally, type Reply } from './support/client.js';
import { HAPROXY, NGINX, freePort, needBinary, startNginx } from './support/proxies.js';

const BALANCES: Balance[] = ['round-robin', 'least-conn', 'sticky', 'hash'];
const INSTANCES = ['127.0.0.1:3001', '127.0.0.1:3002', '[::1]:3003'];

/** Runs a config check command; returns its output (throws with it on failure). */
function check(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${bin} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('exportHaproxy', () => {
  test('each policy maps to its HAProxy directives', () => {
    const cfg = (balance: Balance, extra = {}) => exportHaproxy({ balance, instances: INSTANCES, ...extra });
    assert.match(cfg('round-robin'), /^\s+balance roundrobin$/m);
    assert.match(cfg('least-conn'), /^\s+balance leastconn$/m);
    const sticky = cfg('sticky');
    assert.match(sticky, /^\s+cookie sl\.route insert indirect nocache httponly attr "SameSite=Lax"$/m);
    assert.match(sticky, /^\s+server i1 127\.0\.0\.1:3001 cookie i1$/m);
    assert.match(sticky, /^\s+server i3 \[::1\]:3003 cookie i3$/m);
    const hash = cfg('hash');
    assert.match(hash, /req\.cook\(__Host-sl\.sid\)/);
    assert.match(hash, /^\s+balance hash var\(txn\.sl_key\)$/m);
    assert.match(hash, /^\s+hash-type consistent$/m);
    assert.match(hash, /^\s+hash-balance-factor 125$/m);
    assert.match(cfg('hash', { hash: { header: 'X-Tenant' } }), /^\s+balance hdr\(X-Tenant\)$/m);
    for (const b of BALANCES) {
      const c = cfg(b, { health: { interval: 700, rise: 3, fall: 4 }, retry: { attempts: 1 } });
      assert.match(c, /^\s+option httpchk GET \/healthz$/m);
      assert.match(
        c,
        /^\s+default-server check inter 700ms rise 3 fall 4 observe layer4 error-limit 4 on-error mark-down$/m,
      );
      assert.match(
        c,
        /^\s+http-request deny deny_status 413 if \{ req\.hdr_val\(content-length\) gt 1048576 \}$/m,
      );
      assert.match(c, /^\s+retries 1$/m);
      assert.match(c, /^\s+option http-buffer-request$/m);
      assert.match(c, /^\s+option redispatch 1$/m);
      assert.match(c, /^\s+retry-on conn-failure empty-response response-timeout 502 503$/m);
      assert.match(
        c,
        /^\s+http-request disable-l7-retry if !\{ method GET HEAD PUT DELETE OPTIONS TRACE \} !\{ req\.hdr\(idempotency-key\) -m found \}$/m,
      );
      assert.match(c, /^\s+timeout tunnel 1h$/m);
      assert.match(c, /^\s+option forwardfor$/m);
    }
  });

  test('bad options are refused', () => {
    assert.throws(() => exportHaproxy({ instances: [] }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => exportHaproxy({ instances: ['nohost'] }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => exportHaproxy({ instances: ['a:99999'] }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => exportHaproxy({ instances: ['a:1; evil'] }), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => exportHaproxy({ balance: 'x' as Balance, instances: ['a:1'] }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
    assert.throws(() => exportNginx({ instances: ['a:1'], health: { path: '/x; rm' } }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
    assert.throws(() => exportNginx({ instances: ['a:1', { id: 'i1', address: 'b:2' }] }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
  });

  test('haproxy -c accepts every exported config', { skip: needBinary(HAPROXY, 'haproxy') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-export-'));
    try {
      for (const balance of BALANCES) {
        for (const hash of [undefined, { header: 'X-Tenant' }]) {
          const file = join(dir, `${balance}.cfg`);
          writeFileSync(
            file,
            exportHaproxy({ balance, instances: INSTANCES, hash, host: '127.0.0.1', port: 18080 }),
          );
          assert.match(check(HAPROXY, ['-c', '-f', file]), /Configuration file is valid/);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('exportNginx', () => {
  test('each policy maps to its nginx directives, and the file says where nginx differs', () => {
    const conf = (balance: Balance, extra = {}) => exportNginx({ balance, instances: INSTANCES, ...extra });
    assert.doesNotMatch(conf('round-robin'), /^\s+(least_conn|hash|ip_hash)/m);
    assert.match(conf('least-conn'), /^\s+least_conn;$/m);
    const sticky = conf('sticky');
    assert.match(sticky, /^\s+hash \$stateline_key consistent;$/m);
    assert.match(sticky, /cannot insert a cookie/);
    assert.match(sticky, /sl\\\.sid/);
    assert.match(conf('hash', { hash: { header: 'X-Tenant' } }), /map \$http_x_tenant \$stateline_key/);
    for (const b of BALANCES) {
      const c = conf(b);
      assert.match(c, /^\s+proxy_next_upstream error timeout;$/m);
      assert.match(c, /^\s+client_max_body_size 1048576;$/m);
      assert.match(conf(b, { maxBodyBytes: 65536 }), /^\s+client_max_body_size 65536;$/m);
      assert.match(c, /non_idempotent/);
      assert.match(c, /^\s+proxy_set_header Upgrade \$http_upgrade;$/m);
      assert.match(c, /^\s+proxy_set_header Connection \$stateline_connection;$/m);
      assert.match(c, /max_fails=2 fail_timeout=1s/);
      assert.match(c, /^\s+keepalive 64;$/m);
    }
  });

  test('nginx -t accepts every exported config', { skip: needBinary(NGINX, 'nginx') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-export-'));
    try {
      for (const balance of BALANCES) {
        const file = join(dir, `${balance}.conf`);
        writeFileSync(file, exportNginx({ balance, instances: INSTANCES, host: '127.0.0.1', port: 18080 }));
        const out = check(NGINX, [
          '-t',
          '-p',
          dir,
          '-c',
          file,
          '-e',
          join(dir, 'error.log'),
          '-g',
          `pid ${dir}/nginx.pid;`,
        ]);
        assert.equal(out, '');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(
    'nginx with the sticky export keeps a session on one instance and fails over',
    { skip: needBinary(NGINX, 'nginx') },
    async () => {
      const backends = await startBackends(3);
      const port = await freePort();
      const proxy = await startNginx(
        exportNginx({
          balance: 'sticky',
          host: '127.0.0.1',
          port,
          instances: backends.map((b) => ({ id: b.id, address: `127.0.0.1:${b.port}` })),
        }).replace('worker_processes auto;', 'worker_processes 1;'),
        port,
      );
      const c = new Client(`http://127.0.0.1:${port}`);
      try {
        const cookie = { cookie: 'theme=dark; sl.sid=abc123' };
        const replies: Reply[] = [];
        for (let k = 0; k < 100; k++) replies.push(await c.send('/', { headers: cookie }));
        const owner = replies[0]!.instance!;
        assert.deepEqual(tally(replies), { [owner]: 100 });
        await backends.find((b) => b.id === owner)!.kill();
        const after: Reply[] = [];
        for (let k = 0; k < 30; k++) after.push(await c.send('/', { headers: cookie }));
        assert.ok(after.every((r) => r.status === 200));
        assert.equal(Object.keys(tally(after)).length, 1, 'moves to one other instance');
        assert.notEqual(after[0]!.instance, owner);
        // Requests without a session are spread.
        const keyless: Reply[] = [];
        for (let k = 0; k < 30; k++) keyless.push(await c.send('/'));
        assert.equal(Object.keys(tally(keyless)).length, 2);
      } finally {
        await c.close();
        await proxy.stop();
        await Promise.all(backends.map((b) => b.kill().catch(() => {})));
      }
    },
  );
});
