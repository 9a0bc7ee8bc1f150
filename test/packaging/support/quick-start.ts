/**
 * The quick starts of the `stateline` README, taken from the README itself by their markers
 * (`<!-- quick-start: <framework> <esm|cjs> -->` right before the code block), and a runner that
 * starts one as its own process, talks to it over HTTP and stops it.
 */
import { spawn } from 'node:child_process';
import { childEnv } from './project.js';

export const FRAMEWORKS = ['express', 'fastify', 'hono', 'node'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export interface QuickStart {
  framework: Framework;
  module: 'esm' | 'cjs';
  code: string;
}

const MARKER = /<!-- quick-start: (\w+) (esm|cjs) -->\s*```(\w+)\n([\s\S]*?)```/g;

/** Every marked quick start of a README, in order. */
export function quickStarts(readme: string): QuickStart[] {
  return [...readme.matchAll(MARKER)].map(([, name = '', module, lang, code = '']) => {
    const framework = name as Framework;
    if (!FRAMEWORKS.includes(framework)) throw new Error(`unknown quick start framework ${name}`);
    if ((module === 'esm' && lang !== 'ts') || (module === 'cjs' && lang !== 'js'))
      throw new Error(
        `the ${framework} ${module} quick start should be a \`\`\`${module === 'esm' ? 'ts' : 'js'} block`,
      );
    return { framework, module: module as 'esm' | 'cjs', code };
  });
}

export interface Visit {
  /** The JSON body of each request. */
  bodies: unknown[];
  /** `X-Stateline-Instance` of each answer. */
  instances: (string | null)[];
  /** `Set-Cookie` of the first answer. */
  setCookie: string[];
  exitCode: number | null;
  stderr: string;
}

/**
 * Starts `command args` in `cwd` (HOST 127.0.0.1, PORT 0), waits until its output shows
 * `ready` (whose first group is the URL), sends `GET /` `requests` times as one visitor (each
 * request carries the cookies the earlier answers set), then SIGTERM, and waits for the exit.
 */
export async function visit(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; ready: RegExp; requests: number },
): Promise<Visit> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const url = options.ready.exec(stdout)?.[1];
        if (url) resolve(url);
      });
      void exited.then((code) =>
        reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${stdout}\n${stderr}`)),
      );
    });
    const jar = new Map<string, string>();
    const out: Visit = { bodies: [], instances: [], setCookie: [], exitCode: null, stderr: '' };
    for (let i = 0; i < options.requests; i++) {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, { headers: cookie ? { cookie } : {} });
      const set = res.headers.getSetCookie();
      if (i === 0) out.setCookie = set;
      for (const c of set) {
        const [pair = ''] = c.split(';');
        const eq = pair.indexOf('=');
        jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      out.instances.push(res.headers.get('x-stateline-instance'));
      out.bodies.push(await res.json());
    }
    child.kill('SIGTERM');
    out.exitCode = await exited;
    out.stderr = stderr;
    return out;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Runs a quick start on its own (`node <file>`), its "listening on" line giving the URL; two requests. */
export const runQuickStart = (file: string, cwd: string, env: Record<string, string>): Promise<Visit> =>
  visit(process.execPath, [file], { cwd, env, ready: /listening on (http:\/\/\S+)/, requests: 2 });

/** Runs `node <file>` expecting it to fail on its own; its exit code and stderr. */
export function runToFailure(
  file: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ exitCode: number | null; stderr: string }> {
  const child = spawn(process.execPath, [file], {
    cwd,
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stderr });
    }),
  );
}
