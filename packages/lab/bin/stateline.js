#!/usr/bin/env node
// The `stateline` command. The CLI is compiled to ../dist (and needs the other packages' dist).
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && /[\\/]dist[\\/]/.test(String(err.message))) {
    process.stderr.write('stateline: the packages are not built yet: run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
process.exit(await cli.main(process.argv.slice(2)));
