import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// In development, API and media requests go to a running instance (FLOTILLA_DEV_URL).
const target = process.env.FLOTILLA_DEV_URL ?? 'http://127.0.0.1:9000';
const proxied = ['/api', '/static', '/lazy-static', '/services'];

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: false }])),
  },
  build: {
    target: 'es2022',
    // hls.js is one large chunk by design, loaded only by the watch and embed pages.
    chunkSizeWarningLimit: 1024,
  },
});
