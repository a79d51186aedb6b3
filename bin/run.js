#!/usr/bin/env node
// moor's entry point. Runs the compiled CLI (npm run build) with oclif's manifest, so that only the
// command being run is loaded. The process exits as soon as the command is done: a slow machine that
// `ls` gave up on (Timeout) must not keep it alive.
import { execute } from '@oclif/core';

try {
  await execute({ dir: import.meta.url });
} finally {
  process.exit(process.exitCode ?? 0);
}
