import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * Puts the built script and style into index.html itself: the dashboard is one self-contained page
 * whose Content-Security-Policy allows exactly that script and that style by their hashes (the
 * gateway shares its origin with the app it fronts, so `'self'` would allow the app's scripts too).
 */
function inlineAssets(): Plugin {
  return {
    name: 'stateline-dashboard-inline',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const page = bundle['index.html'];
      if (page?.type !== 'asset') throw new Error('the dashboard build has no index.html');
      let html = String(page.source);
      for (const [name, file] of Object.entries(bundle)) {
        const at = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (file.type === 'chunk') {
          if (file.code.includes('</script')) throw new Error(`${name} cannot be inlined: it holds </script`);
          const tag = new RegExp(`<script type="module"[^>]*\\bsrc="[^"]*${at}"[^>]*></script>`);
          if (!tag.test(html)) throw new Error(`index.html does not load ${name}`);
          html = html.replace(tag, () => `<script type="module">${file.code}</script>`);
        } else if (name.endsWith('.css')) {
          const tag = new RegExp(`<link rel="stylesheet"[^>]*\\bhref="[^"]*${at}"[^>]*>`);
          if (!tag.test(html)) throw new Error(`index.html does not load ${name}`);
          html = html.replace(tag, () => `<style>${String(file.source)}</style>`);
        } else continue;
        delete bundle[name];
      }
      page.source = html;
    },
  };
}

// The cluster dashboard: built into ../dist/dashboard/index.html, which the control API serves.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/_stateline/',
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: false,
    assetsInlineLimit: 0,
  },
  plugins: [inlineAssets()],
  logLevel: 'warn',
});
