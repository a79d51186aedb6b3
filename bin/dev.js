#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, without a build.
import { run } from '../src/main.js';

try {
  await run(process.argv.slice(2), { development: true, dir: import.meta.url });
} finally {
  process.exit(process.exitCode ?? 0);
}
