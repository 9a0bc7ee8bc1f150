import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDocBlocks, docFiles, extractBlocks } from './doc-blocks.mjs';

const root = new URL('..', import.meta.url).pathname;
const fence = '```';

test('extractBlocks takes ts and typescript fences, with the line of their first code line', () => {
  const md = [
    '# Title', // 1
    `${fence}ts`, // 2
    'const a = 1;', // 3
    fence,
    `${fence}sh`,
    'npm test',
    fence,
    `${fence}TypeScript`, // 8
    'const b = 2;', // 9
    fence,
  ].join('\n');
  assert.deepEqual(extractBlocks(md), [
    { line: 3, code: 'const a = 1;', fragment: false },
    { line: 9, code: 'const b = 2;', fragment: false },
  ]);
});

test('extractBlocks marks `ts fragment` blocks and reads tilde and longer fences', () => {
  const md = [
    `${fence}ts fragment`,
    'app.use(x);',
    fence,
    '~~~ts',
    'const t = 1;',
    '~~~',
    '````ts',
    'const inner = `',
    fence,
    '`;',
    '````',
  ].join('\n');
  assert.deepEqual(
    extractBlocks(md).map((b) => [b.line, b.fragment, b.code]),
    [
      [2, true, 'app.use(x);'],
      [5, false, 'const t = 1;'],
      [8, false, `const inner = \`\n${fence}\n\`;`],
    ],
  );
});

test('extractBlocks strips the indentation of a block inside a list item', () => {
  const md = ['- step one:', '', `  ${fence}ts`, '  if (ok) {', '    go();', '  }', `  ${fence}`].join('\n');
  assert.deepEqual(extractBlocks(md), [{ line: 4, code: 'if (ok) {\n  go();\n}', fragment: false }]);
});

test('docFiles lists the READMEs and every Markdown file under docs/, new ones included', () => {
  const files: string[] = docFiles(root);
  assert.equal(files[0], 'README.md');
  assert.ok(files.includes('packages/stateline/README.md'));
  assert.ok(files.includes('docs/sessions.md'));
  const listed = (f: string) =>
    f === 'README.md' || /^packages\/[^/]+\/README\.md$/.test(f) || /^docs\/.+\.md$/.test(f);
  assert.deepEqual(
    files.filter((f) => !listed(f)),
    [],
  );
});

test('checkDocBlocks compiles each block as a strict module and points errors at the Markdown line', () => {
  const pages: Record<string, string> = {
    'docs/good.md': [
      `${fence}ts`,
      "import { createSessions } from 'stateline/session';",
      'const sessions = await createSessions({ keys: [process.env.SESSION_KEY] });',
      'const cart = sessions.strategy;',
      fence,
      `${fence}ts`,
      '// a second module may reuse the names of the first',
      'const cart = 1;',
      fence,
    ].join('\n'),
    'docs/bad.md': [
      'Intro.',
      '',
      `${fence}ts`, // 3
      "import { createSessions } from 'stateline/session';", // 4
      'await createSessions({ keys: [process.env.SESSION_KEY], strategy: "cookie" });', // 5
      'Math.nope();', // 6
      fence,
      `${fence}ts fragment`,
      'app.use(session(sessions));',
      fence,
    ].join('\n'),
  };
  const r = checkDocBlocks(root, Object.keys(pages), (p: string) => pages[p]!);
  assert.equal(r.compiled, 3);
  assert.equal(r.fragments, 1);
  assert.deepEqual(
    r.errors.map((e: { file: string; line: number; code: number }) => [e.file, e.line, e.code]),
    [
      ['docs/bad.md', 5, 2322],
      ['docs/bad.md', 6, 2339],
    ],
  );
});
