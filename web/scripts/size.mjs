// Prints the JavaScript a browser loads to show the home page (gzipped), and fails over the budget.
// Reads the build's Vite manifest: the kit entry, the app entry, the root layout, the layouts and
// page of the route "/", and every module they import statically. Dynamic imports (hls.js, other
// pages) are not part of the first load.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 150 * 1024;
const root = new URL('..', import.meta.url).pathname;
const out = join(root, '.svelte-kit/output/client');
let manifest;
try {
  manifest = JSON.parse(readFileSync(join(out, '.vite/manifest.json'), 'utf8'));
} catch {
  console.error('No build found: run `npm run build` first.');
  process.exit(1);
}
const appSource = readFileSync(join(root, '.svelte-kit/generated/client-optimized/app.js'), 'utf8');
const dictionary = appSource.match(/export const dictionary = (\{[\s\S]*?\});/);
if (!dictionary) throw new Error('cannot find the route dictionary in app.js');
const routes = JSON.parse(dictionary[1].replace(/,\s*}/, '}'));

/** The route id whose URL is "/", with groups like "(app)" removed. */
const homeId = Object.keys(routes).find((id) => id.replace(/\/\([^)]+\)/g, '') === '' || id.replace(/\/\([^)]+\)/g, '') === '/');
if (!homeId) throw new Error('no route for "/"');
const [pageNode, layoutNodes = []] = routes[homeId];
const nodes = [0, ...layoutNodes.filter((n) => n !== undefined && n !== null), pageNode];

const entries = [
  'node_modules/@sveltejs/kit/src/runtime/client/entry.js',
  '.svelte-kit/generated/client-optimized/app.js',
  ...nodes.map((n) => `.svelte-kit/generated/client-optimized/nodes/${n}.js`),
];

const files = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk) throw new Error(`not in the manifest: ${key}`);
  if (files.has(chunk.file)) return;
  files.add(chunk.file);
  for (const dep of chunk.imports ?? []) visit(dep);
};
entries.forEach(visit);

let raw = 0;
let gzipped = 0;
for (const file of [...files].sort()) {
  const bytes = readFileSync(join(out, file));
  const gz = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzipped += gz;
  console.log(`${String(gz).padStart(8)}  ${file}`);
}
console.log(`home page first-load JS: ${files.size} files, ${raw} bytes, ${gzipped} bytes gzipped (budget ${BUDGET})`);
if (gzipped > BUDGET) {
  console.error(`over budget by ${gzipped - BUDGET} bytes`);
  process.exit(1);
}
