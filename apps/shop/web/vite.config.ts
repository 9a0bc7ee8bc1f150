import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The shop's web UI: built into ../dist/public, which every shop instance serves.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/public', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  logLevel: 'warn',
});
