// Jest runs the TypeScript sources directly (ESM via --experimental-vm-modules);
// type checking is `tsc` in `npm run build`, so ts-jest only transpiles (isolatedModules).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false, tsconfig: 'tsconfig.test.json' }],
  },
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  // One test file at a time: the e2e files share one cluster, registry and Docker engine, and
  // test/e2e/track.test.ts restarts the API server on purpose.
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
};
