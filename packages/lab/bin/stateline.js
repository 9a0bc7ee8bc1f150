#!/usr/bin/env node
// The `stateline` command; the CLI itself is compiled to ../dist (npm run build).
import { main } from '../dist/cli.js';

process.exit(await main(process.argv.slice(2)));
