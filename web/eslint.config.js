import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
  { ignores: ['build/', 'build-test-hooks/', '.svelte-kit/', '.svelte-kit-test-hooks/', 'node_modules/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: {
      // __FLOTILLA_TEST_HOOKS__: a build-time constant (vite.config.ts `define`, typed in src/app.d.ts).
      globals: { ...globals.browser, ...globals.node, __FLOTILLA_TEST_HOOKS__: 'readonly' },
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  {
    rules: {
      // {@html} is allowed only for fields the server sanitized; each use carries a comment saying so.
      'svelte/no-at-html-tags': 'off',
      // The client is always served at the root of its instance (no kit.paths.base), so links and
      // goto() take plain paths.
      'svelte/no-navigation-without-resolve': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
