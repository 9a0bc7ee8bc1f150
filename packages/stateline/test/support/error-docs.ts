import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const DOC = new URL('../../../../docs/ERRORS.md', import.meta.url);
const ROW = /^\|\s*`(SL_ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm;

/** A code and its status, as a package defines it. */
export interface DefinedCode {
  readonly code: string;
  readonly status: number;
}

/**
 * The table rows of docs/ERRORS.md by section: the first word of each `## ` heading (a package
 * name) → its rows (`### ` subsections included), code → [status, …] (a code listed twice keeps
 * both statuses, so the tests see the repeat).
 */
export function documentedSections(): Map<string, Map<string, number[]>> {
  const sections = new Map<string, Map<string, number[]>>();
  for (const part of readFileSync(DOC, 'utf8').split(/^## /m).slice(1)) {
    const name = part.slice(0, part.search(/\s/));
    const rows = sections.get(name) ?? new Map<string, number[]>();
    for (const m of part.matchAll(ROW)) rows.set(m[1]!, [...(rows.get(m[1]!) ?? []), Number(m[2])]);
    sections.set(name, rows);
  }
  return sections;
}

/**
 * Registers the docs-vs-code tests of one package: its section of docs/ERRORS.md lists exactly the
 * codes it defines, each once and with its status.
 */
export function describeErrorDocs(pkg: string, defined: Iterable<DefinedCode>): void {
  const codes = new Map([...defined].map((d) => [d.code, d.status]));
  describe(`docs/ERRORS.md, section ${pkg}`, () => {
    const rows = documentedSections().get(pkg);

    it('every code the package defines is documented there once, with its status', () => {
      assert.ok(rows, `docs/ERRORS.md has no "## ${pkg}" section`);
      assert.ok(codes.size > 0, 'the package defines codes');
      for (const [code, status] of codes)
        assert.deepEqual(rows.get(code), [status], `${code} missing, repeated or with another status`);
    });

    it('every code documented there is defined by the package', () => {
      assert.ok(rows && rows.size > 0, 'the section has a table');
      for (const code of rows.keys())
        assert.ok(codes.has(code), `${code} is documented under ${pkg} but not defined`);
    });
  });
}
