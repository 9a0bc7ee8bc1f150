import { createSessions } from '../../src/session/index.js';
import { createStore } from '../../src/store/index.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { POSTGRES_URL, REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runSessionConformance } from './session.case.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const redis = await needService('redis');
const postgres = await needService('postgres');
cleanUpAfter('redis', redis);
cleanUpAfter('postgres', postgres, [
  ['stateline_store', 'key'],
  ['stateline_index', 'owner'],
]);
const sqliteFile = join(mkdtempSync(join(tmpdir(), 'sl-sess-')), 'state.db');

// Each `make` of one case shares a prefix (and a memory hub), so two managers act as two instances.
function shared(spec: (prefix: string) => string) {
  const prefix = uniquePrefix('sess');
  return () => spec(prefix);
}

const memStore = await createStore({ type: 'memory' });
runSessionConformance({
  name: 'server/memory-store',
  make: (o) => createSessions({ ...o, keys: o.keys ?? [], strategy: 'server', store: memStore }),
});
const sqlite = shared((p) => `sqlite:${sqliteFile}?prefix=${p}`);
runSessionConformance({
  name: 'server/sqlite',
  make: (o) => createSessions({ ...o, keys: o.keys ?? [], strategy: 'server', store: sqlite() }),
});
const redisSpec = shared((p) => `${REDIS_URL}?prefix=${p}`);
runSessionConformance({
  name: 'server/redis',
  skip: redis,
  make: (o) => createSessions({ ...o, keys: o.keys ?? [], strategy: 'server', store: redisSpec() }),
});
const pgSpec = shared((p) => `${POSTGRES_URL}?prefix=${p}`);
runSessionConformance({
  name: 'server/postgres',
  skip: postgres,
  make: (o) => createSessions({ ...o, keys: o.keys ?? [], strategy: 'server', store: pgSpec() }),
});
const tokenHub = {};
runSessionConformance({
  name: 'token',
  make: (o) =>
    createSessions({
      ...o,
      keys: o.keys ?? [],
      strategy: 'token',
      store: memStore,
      bus: new MemoryBus({ hub: tokenHub }),
    }),
  limits: { lostUpdates: 'the whole state is in the cookie: the last response to set it wins' },
});
runSessionConformance({
  name: 'memory',
  make: (o) => createSessions({ ...o, keys: o.keys ?? [], strategy: 'memory' }),
  limits: { singleProcess: 'without replication, sessions live in one process only' },
});
const replicaHub = {};
runSessionConformance({
  name: 'memory/replication-all',
  make: (o) =>
    createSessions({
      ...o,
      keys: o.keys ?? [],
      strategy: 'memory',
      replication: 'all',
      bus: new MemoryBus({ hub: replicaHub }),
    }),
});
const hybridPrefix = uniquePrefix('sess-hybrid');
runSessionConformance({
  name: 'hybrid/redis',
  skip: redis,
  make: async (o) =>
    createSessions({
      ...o,
      keys: o.keys ?? [],
      strategy: 'hybrid',
      store: `${REDIS_URL}?prefix=${hybridPrefix}`,
      bus: `${REDIS_URL}?prefix=${hybridPrefix}`,
    }),
});
