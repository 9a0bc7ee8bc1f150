import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The lab's demo app, next to this module (`.ts` when run from source, `.js` once built). */
export const DEFAULT_APP = fileURLToPath(
  new URL(`./demo-app${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
