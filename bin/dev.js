#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, without a build.
import { execute } from '@oclif/core';
import { normalizeArgv } from '../src/cli/argv.js';

try {
  await execute({ development: true, dir: import.meta.url, args: normalizeArgv(process.argv.slice(2)) });
} finally {
  process.exit(process.exitCode ?? 0);
}
