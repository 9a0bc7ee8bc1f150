#!/usr/bin/env node
// After build: every ```ts / ```typescript block of README.md, packages/*/README.md and docs/**/*.md
// is compiled as its own module under --strict against the built packages. A block marked
// ```ts fragment is skipped (see DEVELOPERS.md). Usage: node scripts/check-doc-blocks.mjs [file.md...]
import { checkDocBlocks, docFiles } from './doc-blocks.mjs';

const root = new URL('..', import.meta.url).pathname;
const files = process.argv.length > 2 ? process.argv.slice(2) : docFiles(root);
const { compiled, fragments, errors } = checkDocBlocks(root, files);
for (const e of errors) console.log(`${e.file}:${e.line}:${e.column} TS${e.code}: ${e.message}`);
console.log(
  `doc blocks: ${compiled} compiled, ${fragments} marked fragment, in ${files.length} files; ${errors.length} errors`,
);
process.exit(errors.length === 0 ? 0 : 1);
