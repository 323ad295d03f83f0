// Whether this build carries the test hooks: only when FLOTILLA_WEB_TEST_HOOKS=1 (`npm run
// build:test-hooks`). Read by vite.config.ts (the __FLOTILLA_TEST_HOOKS__ constant) and
// svelte.config.js (such a build goes to build-test-hooks/, never to build/, which release
// binaries embed).
export const TEST_HOOKS = process.env.FLOTILLA_WEB_TEST_HOOKS === '1';
