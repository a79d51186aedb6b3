#!/usr/bin/env node
// Runs Node's built-in test runner over every *.test.ts file under the given folders, through tsx.
// (Node 20's --test does not expand globs itself.)
//   --without-test-hosts   leave out the files that start test hosts (they import test/helpers/testhost.ts,
//                          directly or through a helper of their folder) and those whose header has the line
//                          " * run-tests: default Node only": for a run on another Node
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const OWN_FLAGS = new Set(['--without-test-hosts']);
const args = process.argv.slice(2);
const withoutTestHosts = args.includes('--without-test-hosts');
const roots = args.filter((arg) => !arg.startsWith('-'));
const passThrough = args.filter((arg) => arg.startsWith('-') && !OWN_FLAGS.has(arg));
const files = [];
function walk(dir) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path);
    else if (entry.endsWith('.test.ts')) files.push(path);
  }
}
for (const root of roots.length ? roots : ['test']) {
  if (!existsSync(root)) continue;
  if (statSync(root).isDirectory()) walk(root);
  else files.push(root);
}
/** Whether a test file, or a helper of its own folder that it imports, uses test hosts. */
function usesTestHosts(file, seen = new Set()) {
  if (seen.has(file) || !existsSync(file)) return false;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  if (/helpers\/testhost\.js'/.test(source)) return true;
  // A file that says so in its header runs on the default Node only (npm pack and install, for example).
  if (/^ \* run-tests: default Node only/m.test(source)) return true;
  const local = [...source.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((match) => join(dirname(file), `${match[1]}.ts`));
  return local.some((helper) => usesTestHosts(helper, seen));
}
if (withoutTestHosts) files.splice(0, files.length, ...files.filter((file) => !usesTestHosts(file)));
if (files.length === 0) {
  console.error('run-tests: no test files found under', roots.join(' '));
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...passThrough, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
