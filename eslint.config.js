import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'client/dist/**', 'node_modules/**', '.tap/**', 'coverage/**']
  }),
  // Rules that need the types: a promise nobody awaits or catches is a
  // failure nobody sees (an unhandled rejection ends the process).
  {
    files: ['**/*.ts', '**/*.cts', '**/*.mts'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['test/core/coexistence.test.ts', 'test/package/fixtures/*.ts'] },
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      // tap runs the tests a file declares (`test(…)`, `t.test(…)`) and reports their failures.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/core', name: ['test', 'todo', 'skip', 'only'] }, { from: 'package', package: '@tapjs/test', name: ['test', 'todo', 'skip', 'only'] }, { from: 'package', package: 'tap', name: ['test', 'todo', 'skip', 'only'] }]
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `void promise` is how a promise is marked as deliberately not awaited.
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
