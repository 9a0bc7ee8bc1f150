/**
 * An unreachable Store at startup (issue 12, defect 9): `stateline up` and the instance process on
 * its own each print one line naming the store and the cause, no stack trace, and exit 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { needService } from '../../../packages/stateline/test/support/services.js';
import { SHOP_APP } from './support.js';

const CLI = fileURLToPath(new URL('../../../packages/lab/bin/stateline.js', import.meta.url));

/** Runs node with `args`; resolves with the exit code and what it printed. */
function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One line on stderr, matching `line`; no stack frame, no `[cause]` dump. */
function assertOneLine(stderr: string, line: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, line);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack frame');
  assert.doesNotMatch(stderr, /\[cause\]/);
}

const REDIS_DOWN = 'redis://127.0.0.1:1';
const REDIS_CAUSE = /redis store: cannot connect to redis:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/;

describe('startup with an unreachable Store', () => {
  it('stateline up --store redis://127.0.0.1:1: one line, exit 1', async () => {
    const r = await run([CLI, 'up', '--app', SHOP_APP, '--store', REDIS_DOWN, '--port', '0']);
    assert.equal(r.code, 1);
    assertOneLine(r.stderr, new RegExp(`^stateline: .*could not start: .*${REDIS_CAUSE.source}`));
    assert.equal(r.stdout, '', 'no URL printed');
  });

  it('the instance on its own: one line, exit 1', async () => {
    const r = await run([SHOP_APP], {
      STATELINE_STORE: REDIS_DOWN,
      PORT: '0',
      STATELINE_INSTANCE_ID: 'solo',
    });
    assert.equal(r.code, 1);
    assertOneLine(r.stderr, new RegExp(`^stateline instance solo: cannot start: .*${REDIS_CAUSE.source}`));
  });

  it('a PostgreSQL database that does not exist: one line naming it, exit 1', async (t) => {
    const skip = await needService('postgres');
    if (skip) return t.skip(skip);
    const spec = 'postgres://postgres@127.0.0.1:5432/no_such_db_sl_test';
    const up = await run([CLI, 'up', '--app', SHOP_APP, '--store', spec, '--port', '0', '--instances', '1']);
    assert.equal(up.code, 1);
    assertOneLine(
      up.stderr,
      /^stateline: .*could not start: .*postgres store: .*"no_such_db_sl_test" does not exist/,
    );
    const solo = await run([SHOP_APP], { STATELINE_STORE: spec, PORT: '0', STATELINE_INSTANCE_ID: 'solo' });
    assert.equal(solo.code, 1);
    assertOneLine(solo.stderr, /^stateline instance solo: cannot start: .*postgres store: .*does not exist/);
  });
});
