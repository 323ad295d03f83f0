// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  /** True only in a build made for the browser tests (`npm run build:test-hooks`); see vite.config.ts. */
  const __FLOTILLA_TEST_HOOKS__: boolean;

  namespace App {
    // interface Error {}
    // interface Locals {}
    // interface PageData {}
    // interface PageState {}
    // interface Platform {}
  }
}

export {};
