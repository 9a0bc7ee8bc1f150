import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { shopApiSuite } from './api.case.js';

const dir = mkdtempSync(join(tmpdir(), 'shop-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

shopApiSuite({ strategy: 'server', store: async () => `sqlite:${join(dir, 'shop.db')}` });
