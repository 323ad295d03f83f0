import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { TEST_HOOKS } from './test-hooks.js';

// A build with test hooks has its own output and work directories: it can never be the build/
// that `flotilla serve` and release binaries take, nor leave its files in .svelte-kit/ for
// scripts/size.mjs to measure.
const out = TEST_HOOKS ? 'build-test-hooks' : 'build';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
  },
  kit: {
    // A single-page app: the server answers every page URL with index.html.
    adapter: adapter({ pages: out, assets: out, fallback: 'index.html', precompress: true, strict: true }),
    outDir: TEST_HOOKS ? '.svelte-kit-test-hooks' : '.svelte-kit',
    version: { pollInterval: 0 },
  },
};

export default config;
