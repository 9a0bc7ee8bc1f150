/**
 * Must show 3: the multi-instance scenario on the embedded pairing: one SQLite file (WAL) shared
 * by the 3 instance processes as Log, and the `ipc:` Bus relayed by this test process (the
 * supervisor, as `stateline up` would be), with and without an instance SIGKILLed mid-stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { attachIpcRelay } from '../../src/bus/index.js';
import { HUB_OPTIONS } from './hub-options.js';
import { runMultiInstance } from './multi-instance.case.js';

const dir = mkdtempSync(join(tmpdir(), 'sl-rt-'));
const relay = attachIpcRelay();
let n = 0;

runMultiInstance(
  'sqlite + ipc',
  () => ({
    relay,
    config: () => ({
      log: { type: 'sqlite', path: join(dir, `rt-${++n}.db`) },
      bus: { type: 'ipc' },
      hub: HUB_OPTIONS,
    }),
  }),
  false,
);

after(() => {
  relay.close();
  rmSync(dir, { recursive: true, force: true });
});
