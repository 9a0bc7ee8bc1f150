/**
 * Packs the published workspaces with `npm pack` and installs the tarballs into a fresh project
 * outside the repository, the way a user would, without reaching the registry: the tarballs'
 * third-party dependencies and the frameworks a project adds are `file:` links to the copies this
 * repository already installed (npm links a directory dependency and resolves the link's own
 * dependencies where it lives), and the install runs `--offline`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The workspaces published to npm, in dependency order. */
export const PUBLISHED = ['packages/stateline', 'packages/gateway', 'packages/lab'];

export interface Manifest {
  name: string;
  version: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
}

export interface Packed {
  name: string;
  /** Absolute path of the `.tgz`. */
  file: string;
}

export const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/**
 * The environment of a child: none of the outer `npm test`'s lifecycle variables, no test runner
 * context, and no `node_modules/.bin` of this repository on PATH (npm puts it there), so a command
 * run in a project resolves from that project only.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes(`${sep}node_modules${sep}.bin`))
    .join(delimiter);
  return { ...env, ...extra };
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
export function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = childEnv(),
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** `npm pack` of every published workspace into `dest` (dist must be built). */
export async function packAll(dest: string): Promise<Packed[]> {
  const args = ['pack', ...PUBLISHED.flatMap((w) => ['-w', w]), '--pack-destination', dest, '--json'];
  const { stdout } = await run('npm', args, ROOT);
  const out = JSON.parse(stdout) as { name: string; filename: string }[];
  return out.map((p) => ({ name: p.name, file: join(dest, p.filename) }));
}

/** Where Node would find `name` from `fromDir`: the nearest `node_modules/<name>` going up. */
export function installedDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed above ${fromDir}`);
  }
}

/**
 * The third-party runtime dependencies the published packages declare, each with the directory
 * this repository installed it in (seen from the package that declares it).
 */
export function thirdPartyDependencies(): Map<string, string> {
  const ours = new Set(PUBLISHED.map((w) => readManifest(join(ROOT, w)).name));
  const found = new Map<string, string>();
  for (const w of PUBLISHED) {
    for (const dep of Object.keys(readManifest(join(ROOT, w)).dependencies ?? {})) {
      if (!ours.has(dep) && !found.has(dep)) found.set(dep, installedDir(dep, join(ROOT, w)));
    }
  }
  return found;
}

/**
 * A new project in `dir` as `npm init -y` writes it (npm 11 writes `"type": "commonjs"`), made
 * `"type": "module"` when asked, with the tarballs and `adds` (package names found in this
 * repository's node_modules) installed offline.
 */
export async function createProject(
  dir: string,
  options: { type: 'commonjs' | 'module'; tarballs: Packed[]; adds: string[] },
): Promise<void> {
  await run('npm', ['init', '-y'], dir);
  if (options.type === 'module') {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, type: 'module' }, null, 2));
  }
  const links = [...thirdPartyDependencies().values(), ...options.adds.map((n) => installedDir(n, ROOT))];
  await run(
    'npm',
    [
      'install',
      '--offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
      ...options.tarballs.map((t) => t.file),
      ...new Set(links),
    ],
    dir,
  );
}
