#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, without a build. package.json
// names the loader of the built CLI for the commands and the help class (dist/cli-loader.cjs); here oclif reads
// them from the sources instead.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../src/main.js';

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
pjson.oclif.commands = { ...pjson.oclif.commands, target: './src/main.ts' };
pjson.oclif.helpClass = './src/help.ts';

try {
  const root = fileURLToPath(new URL('..', import.meta.url));
  await run(process.argv.slice(2), { development: true, dir: import.meta.url, loadOptions: { root, pjson } });
} finally {
  process.exit(process.exitCode ?? 0);
}
