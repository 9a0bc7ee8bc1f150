#!/usr/bin/env node
// After build: publint checks each package's exports map, then every subpath is imported from dist
// through the package name, so a missing file or a `dist/…` deep import shows up here.
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let failed = false;
for (const dir of ['packages/stateline', 'packages/gateway', 'packages/lab']) {
  const pkgDir = join(root, dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const { messages } = await publint({ pkgDir, strict: true });
  for (const m of messages) {
    console.log(`${pkg.name}: ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
    if (m.type !== 'suggestion') failed = true;
  }
  for (const sub of Object.keys(pkg.exports)) {
    if (sub === './package.json') continue;
    const spec = `${pkg.name}${sub.slice(1)}`;
    try {
      const mod = await import(spec);
      if (Object.keys(mod).length === 0) {
        // A types-only entry (a contract an app implements) has no runtime exports, only declarations.
        const types = pkg.exports[sub].types;
        const dts = types ? readFileSync(join(pkgDir, types), 'utf8') : '';
        if (!/^export (type|interface|declare|\{)/m.test(dts)) throw new Error('exports nothing');
        console.log(`ok ${spec} (types only)`);
        continue;
      }
      console.log(`ok ${spec} (${Object.keys(mod).length} exports)`);
    } catch (err) {
      failed = true;
      console.log(`FAIL ${spec}: ${err.message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
