// Fails when the production build (build/, which `flotilla serve` and release binaries take)
// carries a test hook: the P2P test's corrupting peer is turned on by `p2pCorrupt` (a URL
// parameter or a localStorage key), a text no production file may contain. When a test-hooks
// build exists (`npm run build:test-hooks`), it must contain that text: proof that the search
// would find it.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MARKER = 'p2pCorrupt';
const root = new URL('..', import.meta.url).pathname;

/** The files of `dir` (recursively) whose text contains MARKER. */
function filesWithMarker(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.(js|html)$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (readFileSync(path, 'utf8').includes(MARKER)) found.push(path);
  }
  return found;
}

const build = join(root, 'build');
if (!existsSync(join(build, 'index.html'))) {
  console.error('No build found: run `npm run build` first.');
  process.exit(1);
}
const leaked = filesWithMarker(build);
if (leaked.length > 0) {
  console.error(`test hooks in the production build (${MARKER}):\n  ${leaked.join('\n  ')}`);
  process.exit(1);
}
const testBuild = join(root, 'build-test-hooks');
if (existsSync(join(testBuild, 'index.html')) && filesWithMarker(testBuild).length === 0) {
  console.error(`build-test-hooks/ has no ${MARKER}: this check no longer finds the hook; update MARKER`);
  process.exit(1);
}
console.log('build/ carries no test hook');
