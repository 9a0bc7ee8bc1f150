/** The failover notice and the banner's words, from what the server sees (no cluster, no browser). */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { Session, SessionMetrics } from 'stateline/session';
import { readConfig } from '../src/config.js';
import { failoverNotice, reroutedFrom, whereSessionsLive } from '../src/failover.js';

const config = (env: Record<string, string>) => readConfig({ STATELINE_INSTANCE_ID: 'i3', ...env });
const session = (isNew: boolean) => ({ isNew }) as Session;
const metrics = (replicasFetched: number) => ({ replicasFetched }) as SessionMetrics;
const headers = (cookie: string) => ({ cookie }) as IncomingMessage['headers'];

describe('failover notice', () => {
  it('a route cookie naming another instance, or the page left cookie, is a reroute; its own id or junk is not', () => {
    assert.deepEqual(reroutedFrom(headers('sl.sid=x; sl.route=i2'), 'i3'), { from: 'i2', viaCookie: false });
    assert.deepEqual(reroutedFrom(headers('sl.failover=i1'), 'i3'), { from: 'i1', viaCookie: true });
    assert.equal(reroutedFrom(headers('sl.route=i3'), 'i3'), undefined);
    assert.equal(reroutedFrom(headers('sl.route=<script>'), 'i3'), undefined);
    assert.equal(reroutedFrom({}, 'i3'), undefined);
  });

  it('says lost, restored (own copy or fetched), kept or none from what the load found', () => {
    const memory = config({ STATELINE_STRATEGY: 'memory' });
    const backup = config({ STATELINE_STRATEGY: 'memory', STATELINE_REPLICATION: 'backup' });
    const server = config({ STATELINE_STRATEGY: 'server', STATELINE_STORE: 'redis://127.0.0.1:6379' });
    const token = config({ STATELINE_STRATEGY: 'token' });
    const base = { from: 'i2', hadCookie: true, fetchedBefore: 0, metrics: metrics(0) };
    const lost = failoverNotice({ ...base, config: memory, session: session(true) });
    assert.equal(lost.outcome, 'lost');
    assert.match(lost.text, /without replication keeps sessions only in the instance that served you/);
    const own = failoverNotice({ ...base, config: backup, session: session(false) });
    assert.equal(own.outcome, 'restored');
    assert.match(own.text, /restored from i3's copy\.$/);
    const fetched = failoverNotice({ ...base, config: backup, session: session(false), metrics: metrics(1) });
    assert.match(fetched.text, /restored from a copy i3 fetched from another instance\.$/);
    const kept = failoverNotice({ ...base, config: server, session: session(false) });
    assert.equal(kept.outcome, 'kept');
    assert.match(kept.text, /i3 read your session from Redis/);
    assert.match(
      failoverNotice({ ...base, config: token, session: session(false) }).text,
      /from your own cookie/,
    );
    const none = failoverNotice({ ...base, config: memory, session: session(true), hadCookie: false });
    assert.equal(none.outcome, 'none');
    assert.deepEqual([none.from, none.to], ['i2', 'i3']);
  });

  it('the banner words per strategy', () => {
    assert.equal(whereSessionsLive(config({ STATELINE_STRATEGY: 'server' })), 'in SQLite');
    assert.equal(
      whereSessionsLive(config({ STATELINE_STRATEGY: 'token' })),
      'in your browser, encrypted (a sealed cookie)',
    );
    assert.equal(
      whereSessionsLive(config({ STATELINE_STRATEGY: 'hybrid', STATELINE_STORE: 'postgres://x@h/db' })),
      "in PostgreSQL, cached in i3's memory",
    );
    assert.equal(whereSessionsLive(config({ STATELINE_STRATEGY: 'memory' })), "in i3's memory only");
    assert.equal(
      whereSessionsLive(config({ STATELINE_STRATEGY: 'memory', STATELINE_REPLICATION: 'all' })),
      "in i3's memory, copied to every instance",
    );
    assert.equal(
      whereSessionsLive(
        config({ STATELINE_STRATEGY: 'server', STATELINE_SESSION_STORE: 'memcached://127.0.0.1:11211' }),
      ),
      'in memcached',
    );
  });
});
