#!/usr/bin/env node
// moor's entry point: the bundled CLI (npm run build). The process exits as soon as the command is done:
// a slow machine that `ls` gave up on (Timeout) must not keep it alive.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  process.stderr.write(`moor needs Node.js 20.12 or newer; this is ${process.version}.\n`);
  process.exit(1);
}
// moor checks the Node version itself (above), so oclif need not load semver to do it again.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= 'true';
const { run, quietLogger } = await import('../dist/src/main.js');
const { fileURLToPath } = await import('node:url');
const root = fileURLToPath(new URL('..', import.meta.url));

try {
  await run(process.argv.slice(2), { loadOptions: process.env.DEBUG ? { root } : { root, logger: quietLogger() } });
} finally {
  process.exit(process.exitCode ?? 0);
}
