#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, without a build.
import { execute } from '@oclif/core';

try {
  await execute({ development: true, dir: import.meta.url });
} finally {
  process.exit(process.exitCode ?? 0);
}
