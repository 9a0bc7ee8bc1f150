#!/usr/bin/env node
// npm run bench -- <name> [args]: runs bench/<name>.bench.ts after building the library.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace('.bench.ts', ''));
if (!name || !available.includes(name)) {
  console.error(
    `usage: npm run bench -- <${available.join('|')}>${name ? ` (no benchmark named "${name}")` : ''}`,
  );
  process.exit(2);
}
const file = join(root, 'bench', `${name}.bench.ts`);
if (!existsSync(file)) process.exit(2);
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
