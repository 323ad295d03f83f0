import { sveltekit } from '@sveltejs/kit/vite';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { TEST_HOOKS } from './test-hooks.js';

// In development, API and media requests go to a running instance (FLOTILLA_DEV_URL).
const target = process.env.FLOTILLA_DEV_URL ?? 'http://127.0.0.1:9000';
const proxied = ['/api', '/static', '/lazy-static', '/services'];

/**
 * p2p-media-loader-core 2.3.1 bug: after a peer's segment fails validation (or a transfer is cut
 * short), `clearLoadedBytes()` forgets the segment's size, and every HTTP retry of a *byte-range*
 * segment (ours: one fMP4 file per rendition) then fails its Content-Range check
 * ("http-bytes-mismatch"), so the player never gets that segment. Keep the size a byte range
 * defines. Fixed upstream after 2.3.1 (Novage/p2p-media-loader#534); the build fails if the code
 * it patches changes, so a version bump is noticed.
 */
function patchP2PMediaLoader(): Plugin {
  const from = 'this.bytes = [];\n\t\tthis._totalBytes = void 0;\n\t\tthis.finalData = void 0;';
  const to =
    'this.bytes = [];\n\t\tthis._totalBytes = this.segment.byteRange ? this.segment.byteRange.end - this.segment.byteRange.start + 1 : void 0;\n\t\tthis.finalData = void 0;';
  return {
    name: 'flotilla-patch-p2p-media-loader',
    transform(code, id) {
      if (!id.includes('p2p-media-loader-core/dist/p2p-media-loader-core.es.js')) return null;
      if (!code.includes(from)) throw new Error('p2p-media-loader-core changed: re-check the clearLoadedBytes patch in vite.config.ts');
      return { code: code.replace(from, to), map: null };
    },
  };
}

export default defineConfig({
  plugins: [patchP2PMediaLoader(), sveltekit()],
  define: {
    // Test hooks (the P2P test's corrupting peer) are compiled in only by `npm run
    // build:test-hooks` (into build-test-hooks/, see svelte.config.js); in every other build the
    // constant is false and their code is dropped from the bundle, so no URL or storage value can
    // turn them on in production.
    __FLOTILLA_TEST_HOOKS__: JSON.stringify(TEST_HOOKS),
  },
  // Served unbundled in development so the patch above applies there too.
  optimizeDeps: { exclude: ['p2p-media-loader-core', 'p2p-media-loader-hlsjs'] },
  resolve: {
    // p2p-media-loader-core's self-contained browser build (it bundles the tracker client and
    // simple-peer with their Node shims); its lib/ build would need Node's "events".
    conditions: ['p2pml:core-as-bundle', ...defaultClientConditions],
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: false }])),
  },
  build: {
    target: 'es2022',
    // hls.js is one large chunk by design, loaded only by the watch and embed pages.
    chunkSizeWarningLimit: 1024,
  },
});
