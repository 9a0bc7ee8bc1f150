/**
 * The shell commands the docs tell a reader to run work on a stock Debian or macOS shell: no tool
 * that a default install lacks, no GNU-only or BSD-only flag. Checked in every ```sh block and
 * every inline code span of README.md, docs/*.md and the packages' READMEs.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What is not portable, and what to write instead. */
const NOT_PORTABLE: [RegExp, string][] = [
  [/\buuidgen\b/, 'uuidgen is not on Debian by default: node -p "crypto.randomUUID()"'],
  [/\bjq\b/, 'jq is not installed by default: read the JSON with node -p'],
  [
    /\bopenssl rand\b/,
    'openssl is missing from slim images: node -p "crypto.randomBytes(n).toString(\'hex\')"',
  ],
  [/\bsed -i\b/, 'sed -i takes a suffix argument on macOS'],
  [/\bgrep -[a-zA-Z]*P/, 'grep -P is GNU-only'],
  [/\bdate -d\b/, 'date -d is GNU-only'],
  [/\breadlink -f\b/, 'readlink -f is GNU-only on older macOS'],
  [/\bxargs -r\b/, 'xargs -r is GNU-only'],
  [/\bbase64 -w\b/, 'base64 -w is GNU-only'],
  [/\bstat -c\b/, 'stat -c is GNU-only'],
  [/(^|[\s;|&(])(md5sum|sha256sum|nproc|timeout \d)/, 'a GNU coreutils command macOS lacks'],
];

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  const packages = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'README.md'));
  return [join(ROOT, 'README.md'), ...docs, ...packages];
}

/** Shell blocks and inline code spans: the text a reader would paste into a terminal. */
function commands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```(?:sh|bash|shell|console)\n([\s\S]*?)^```/gm)].map(
    (m) => m[1] ?? '',
  );
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '');
  return [...blocks, ...spans];
}

describe('commands in the docs', () => {
  it('finds shell blocks to check', () => {
    const total = markdownFiles().flatMap((f) => commands(readFileSync(f, 'utf8'))).length;
    assert.ok(total > 50, `commands found: ${total}`);
  });

  for (const file of markdownFiles()) {
    it(`${relative(ROOT, file)}: only portable commands`, () => {
      const found: string[] = [];
      for (const line of commands(readFileSync(file, 'utf8')).flatMap((c) => c.split('\n'))) {
        for (const [pattern, why] of NOT_PORTABLE)
          if (pattern.test(line)) found.push(`${line.trim()} — ${why}`);
      }
      assert.deepEqual(found, []);
    });
  }
});
