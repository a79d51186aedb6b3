#!/usr/bin/env node
// CLI latency of everyday commands, as a ratio to bare Node startup (`node -e 0`) measured in the same
// run, interleaved so that both see the same machine load. Run `npm run build` first.
//   node bench/cli-latency.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin/run.js');
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag === -1 ? 21 : Number(process.argv[runsFlag + 1]);
const TARGET = 2;

function run(args, env = {}) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function makeStore(count) {
  const store = mkdtempSync(join(tmpdir(), 'moor-bench-'));
  run([cli, 'create', '--driver', 'none', '--url', 'tcp://127.0.0.1:1', 'web'], { MOOR_STORAGE_PATH: store });
  const source = join(store, 'machines', 'web');
  for (let index = 1; index < count; index++) {
    const name = `web${index}`;
    const target = join(store, 'machines', name);
    cpSync(source, target, { recursive: true });
    const config = JSON.parse(readFileSync(join(target, 'config.json'), 'utf8'));
    config.Name = name;
    config.Driver.MachineName = name;
    writeFileSync(join(target, 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  }
  return store;
}

const one = makeStore(1);
const fifty = makeStore(50);
const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'], env: {} },
  { name: 'moor env web', args: [cli, 'env', 'web'], env: { MOOR_STORAGE_PATH: one } },
  { name: 'moor inspect web', args: [cli, 'inspect', 'web'], env: { MOOR_STORAGE_PATH: one } },
  { name: 'moor ls (1 machine)', args: [cli, 'ls'], env: { MOOR_STORAGE_PATH: one } },
  { name: 'moor ls (50 machines)', args: [cli, 'ls'], env: { MOOR_STORAGE_PATH: fifty } },
  { name: 'moor ls -q (50 machines)', args: [cli, 'ls', '-q'], env: { MOOR_STORAGE_PATH: fifty } },
];
const samples = cases.map(() => []);
for (const entry of cases) run(entry.args, entry.env); // warm the file cache
for (let round = 0; round < runs; round++) {
  cases.forEach((entry, index) => samples[index].push(run(entry.args, entry.env)));
}
rmSync(one, { recursive: true, force: true });
rmSync(fifty, { recursive: true, force: true });

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const baseline = median(samples[0]);
console.log(`CLI latency, median of ${runs} interleaved runs (target: at most ${TARGET}x node -e 0)`);
console.log(`${'case'.padEnd(28)}${'median ms'.padStart(10)}${'ratio'.padStart(8)}`);
cases.forEach((entry, index) => {
  const value = median(samples[index]);
  const ratio = value / baseline;
  const mark = index === 0 ? '' : ratio <= TARGET ? '  ok' : '  over target';
  console.log(`${entry.name.padEnd(28)}${value.toFixed(1).padStart(10)}${ratio.toFixed(2).padStart(8)}${mark}`);
});
