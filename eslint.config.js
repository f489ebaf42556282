// ESLint flat config. The import-direction rules (STYLE.md §1) live here so that lint,
// not review, keeps `shared ← agent/core ← agent/{service,tray}`, `shared ← server` and
// `ui → shared (types only)`; see scripts/eslint/import-direction.js.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importDirection } from './scripts/eslint/import-direction.js';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'coverage/',
      '.demo/',
      'dist/',
      'shared/json-schema/',
      'test/fixtures/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    plugins: { hallpass: { rules: { 'import-direction': importDirection } } },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      eqeqeq: 'error',
      curly: 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'hallpass/import-direction': 'error',
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'only agent/tray may import electron.' }] },
      ],
    },
  },
  {
    files: ['shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['node:*'], message: 'shared/ runs in browsers too: no Node APIs.' }],
        },
      ],
    },
  },
  { files: ['agent/tray/**'], rules: { 'no-restricted-imports': 'off' } },
  // ui/ runs in the browser, where shared/'s modules are not served: types only (ARCHITECTURE.md).
  {
    files: ['ui/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/shared/**'],
              allowTypeImports: true,
              message: 'ui/ may import only types from shared/.',
            },
          ],
        },
      ],
    },
  },
  // Fastify plugins are async by contract even when they only register routes.
  { files: ['server/routes/**'], rules: { '@typescript-eslint/require-await': 'off' } },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
