#!/usr/bin/env node
// moor's entry point: the bundled CLI (npm run build). The process exits as soon as the command is done:
// a slow machine that `ls` gave up on (Timeout) must not keep it alive.
import { execute } from '../dist/src/main.js';

try {
  await execute({ dir: import.meta.url });
} finally {
  process.exit(process.exitCode ?? 0);
}
