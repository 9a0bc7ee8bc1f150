import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createStore } from '../../src/store/index.js';
import { runIdempotencyConformance } from './idempotency.case.js';

const dir = mkdtempSync(join(tmpdir(), 'sl-idem-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Every make() is a new connection to one file: the concurrency test's instances are real connections.
runIdempotencyConformance({
  backend: 'sqlite',
  make: (prefix) => createStore({ type: 'sqlite', path: join(dir, 'state.db'), prefix }),
});
