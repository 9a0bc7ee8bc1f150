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

export interface QuickStartRun {
  /** The JSON bodies of two requests, the second carrying the cookies the first set. */
  first: unknown;
  second: unknown;
  setCookie: string[];
  exitCode: number | null;
  stderr: string;
}

const LISTENING = /listening on (http:\/\/\S+)/;

/**
 * Runs `node <file>` in `cwd` on port 0, waits for its "listening on" line, sends `GET /` twice
 * (the second time with the first answer's cookies), then SIGTERM, and waits for the exit.
 */
export async function runQuickStart(
  file: string,
  cwd: string,
  env: Record<string, string>,
): Promise<QuickStartRun> {
  const child = spawn(process.execPath, [file], {
    cwd,
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const onData = () => {
        const url = LISTENING.exec(stdout)?.[1];
        if (url) resolve(url);
      };
      child.stdout.on('data', onData);
      void exited.then((code) =>
        reject(new Error(`${file} exited (${code}) before listening:\n${stdout}\n${stderr}`)),
      );
    });
    const a = await fetch(url);
    const setCookie = a.headers.getSetCookie();
    const first: unknown = await a.json();
    const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    const second: unknown = await (await fetch(url, { headers: { cookie } })).json();
    child.kill('SIGTERM');
    return { first, second, setCookie, exitCode: await exited, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

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
