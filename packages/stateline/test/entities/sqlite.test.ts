import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runEntityFleet } from './fleet.case.js';

const dir = mkdtempSync(join(tmpdir(), 'sl-entities-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

// One SQLite file (WAL) per test, shared by its 3 instance processes as Store and Log.
runEntityFleet({
  backend: 'sqlite',
  specs: () => {
    const path = join(dir, `state-${++n}.db`);
    return { store: { type: 'sqlite', path }, log: { type: 'sqlite', path } };
  },
});
