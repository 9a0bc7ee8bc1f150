// Extracts the TypeScript blocks of Markdown files and compiles each as its own module under the
// repository's strict compiler options. Used by scripts/check-doc-blocks.mjs (`npm run check:docs`).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import ts from 'typescript';

const LANGS = new Set(['ts', 'typescript']);
/** The info-string word that excludes a block from compilation (```ts fragment). */
export const FRAGMENT = 'fragment';

/**
 * The fenced ```ts / ```typescript blocks of one Markdown text (CommonMark fences: backticks or
 * tildes, three or more, indented up to three spaces or inside a list item).
 *
 * @param {string} markdown
 * @returns {{ line: number, code: string, fragment: boolean }[]} `line`: 1-based line of the first code line
 */
export function extractBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end])) end++;
    if (LANGS.has(lang.toLowerCase())) {
      const body = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
      blocks.push({
        line: i + 2,
        code: body.join('\n'),
        fragment: rest.trim().split(/\s+/).includes(FRAGMENT),
      });
    }
    i = end;
  }
  return blocks;
}

/**
 * README.md, each published package's README (its npm page) and every Markdown file under docs/
 * (new files are picked up as they are added).
 *
 * @param {string} root
 * @returns {string[]} paths relative to `root`
 */
export function docFiles(root) {
  const out = ['README.md'];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const readme = join('packages', name, 'README.md');
    if (existsSync(join(root, readme))) out.push(readme);
  }
  const walk = (dir) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const p = join(dir, name);
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else if (name.endsWith('.md')) out.push(p);
    }
  };
  walk('docs');
  return out;
}

/**
 * Compiles every non-fragment block of `files` in one program. Each block is a module placed
 * (virtually) next to its Markdown file, so `stateline/*`, `@stateline/*` and the frameworks
 * resolve through the repository's node_modules, to the built packages.
 *
 * @param {string} root repository root
 * @param {string[]} files Markdown paths relative to `root`
 * @param {(path: string) => string} [read] reads a Markdown file (tests pass their own)
 * @returns {{ compiled: number, fragments: number, errors: { file: string, line: number, column: number, code: number, message: string }[] }}
 */
export function checkDocBlocks(root, files, read = (p) => readFileSync(join(root, p), 'utf8')) {
  const virtual = new Map();
  let fragments = 0;
  for (const file of files) {
    for (const b of extractBlocks(read(file))) {
      if (b.fragment) {
        fragments++;
        continue;
      }
      // `export {}` makes every block a module: its own scope, top-level await allowed.
      const path = join(root, dirname(file), '.doc-blocks', `${basename(file)}.${b.line}.ts`);
      virtual.set(path, { file, line: b.line, text: `${b.code}\nexport {};\n` });
    }
  }
  const options = {
    ...ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.base.json'), {}, configHost).options,
    strict: true,
    noEmit: true,
    // Doc blocks show browser code too (the realtime client).
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    // An unused import or variable in an example is not an error.
    noUnusedLocals: false,
    noUnusedParameters: false,
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (p) => virtual.has(p) || fileExists(p);
  host.readFile = (p) => virtual.get(p)?.text ?? readFile(p);
  host.getSourceFile = (p, lang, ...rest) =>
    virtual.has(p)
      ? ts.createSourceFile(p, virtual.get(p).text, lang, true)
      : getSourceFile(p, lang, ...rest);
  const program = ts.createProgram([...virtual.keys()], options, host);
  const errors = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const origin = d.file && virtual.get(d.file.fileName);
    if (!origin) {
      errors.push({
        file: d.file ? relative(root, d.file.fileName) : '(options)',
        line: 0,
        column: 0,
        code: d.code,
        message,
      });
      continue;
    }
    const pos = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    errors.push({
      file: origin.file,
      line: origin.line + pos.line,
      column: pos.character + 1,
      code: d.code,
      message,
    });
  }
  return { compiled: virtual.size, fragments, errors };
}

const configHost = {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
};
