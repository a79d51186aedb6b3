import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The dependency direction (see ARCHITECTURE.md): the core stays free of oclif and reaches drivers only
// through drivers/registry.ts; drivers reach moor only through drivers/api.ts.
const noOclif = { group: ['@oclif/*'], message: 'Keep core free of oclif.' };
const driversOnlyThroughRegistry = {
  group: ['**/drivers/*', '**/drivers/**', '!**/drivers/registry.js'],
  message: 'Outside drivers/, reach drivers only through drivers/registry.ts.',
};
const moorOnlyThroughDriverApi = {
  group: ['**/src/*', '**/src/**'],
  message: 'A driver imports moor only through drivers/api.ts.',
};
const noOtherDriver = {
  // drivers/shared/vm/ reaches the API as ../../api.js.
  group: ['../*/*', '!../shared/*', '!../shared/**', '!../../api.js'],
  message: "A driver imports only its own folder, drivers/api.ts and drivers/shared/, never another driver's code.",
};
/** The same rule for import() expressions, which no-restricted-imports does not see. */
function dynamicImport(pattern, rule) {
  return { selector: `ImportExpression[source.value=/${pattern}/]`, message: rule.message };
}

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [noOclif] }],
    },
  },
  {
    files: ['src/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [noOclif, driversOnlyThroughRegistry] }],
      'no-restricted-syntax': ['error', dynamicImport('drivers\\/(?!registry\\.js)', driversOnlyThroughRegistry)],
    },
  },
  {
    files: ['drivers/**'],
    ignores: ['drivers/api.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [noOclif, moorOnlyThroughDriverApi, noOtherDriver] }],
      'no-restricted-syntax': ['error', dynamicImport('\\/src\\/', moorOnlyThroughDriverApi)],
    },
  },
  {
    files: ['src/commands/**', 'src/base-command.ts', 'src/help.ts', 'src/main.ts', 'src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [driversOnlyThroughRegistry] }],
      'no-restricted-syntax': ['error', dynamicImport('drivers\\/(?!registry\\.js)', driversOnlyThroughRegistry)],
    },
  },
  {
    files: ['scripts/**', 'bin/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', __filename: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
