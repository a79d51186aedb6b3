#!/usr/bin/env node
// CLI latency and peak memory of everyday commands, as ratios to bare Node (`node -e 0`) measured in the
// same run, interleaved so that every case sees the same machine load; and, where a `docker-machine` binary
// is on PATH, Docker Machine's same command. Also the CPU time each process used (user + system): on a
// machine busy with other work the wall time of a short process is mostly waiting for a core, and its CPU
// time still says what it cost. Run `npm run build` first.
//   node bench/cli-latency.mjs [--runs N] [--node PATH] [--keep-extra-ca]   (--node: another Node binary)
// NODE_EXTRA_CA_CERTS is left out of every case's environment unless --keep-extra-ca: Node 20 reads that file
// at every start (about 50 ms for the system bundle here), Node 22 and 24 only when TLS needs it, so it
// inflates Node 20's `node -e 0` and flatters every ratio to it.
// Targets (issue 15): everyday commands at most 1.4x `node -e 0` in time and 1.25x in peak memory;
// `create -d none` at most 2x in time (its memory is printed, not held to the everyday target: node:crypto and
// OpenSSL alone take 2-5 MB, 5-12% of bare Node). `ls` of 50 machines is measured, not a target.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin/run.cjs');
const option = (name, fallback) => {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : process.argv[index + 1];
};
const runs = Number(option('--runs', 21));
const node = option('--node', process.execPath);
const extraCa = process.argv.includes('--keep-extra-ca') ? undefined : process.env.NODE_EXTRA_CA_CERTS;
const baseEnv = { ...process.env };
if (extraCa !== undefined) delete baseEnv.NODE_EXTRA_CA_CERTS;
const EVERYDAY_TARGET = 1.4;
const CREATE_TARGET = 2;
const MEMORY_TARGET = 1.25;
const scratch = mkdtempSync(join(tmpdir(), 'moor-bench-'));
const rssProbe = join(scratch, 'rss.cjs');
const rssFile = join(scratch, 'rss.txt');
// Peak memory and CPU time: a preload writes maxRSS and user + system time at exit (the same preload for
// every case, bare Node included).
writeFileSync(
  rssProbe,
  `process.on('exit', () => { const { user, system } = process.cpuUsage(); ` +
    `require('fs').writeFileSync(${JSON.stringify(rssFile)}, process.resourceUsage().maxRSS + ' ' + (user + system)); });`,
);

function run(command, args, env = {}, memory = false) {
  const argv = memory ? ['--require', rssProbe, ...args] : args;
  const started = process.hrtime.bigint();
  const result = spawnSync(command, argv, { env: { ...baseEnv, ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  if (!memory) return ms;
  const [maxRss, cpuMicroseconds] = readFileSync(rssFile, 'utf8').split(' ').map(Number);
  return { mb: maxRss / 1024, cpuMs: cpuMicroseconds / 1000 };
}

function makeStore(count) {
  const store = mkdtempSync(join(scratch, 'store-'));
  run(node, [cli, 'create', '--driver', 'none', '--url', 'tcp://127.0.0.1:1', 'web'], { MOOR_STORAGE_PATH: store });
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
const createStore = mkdtempSync(join(scratch, 'create-'));
let created = 0;
const onPath = (program) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => spawnSync('test', ['-x', join(dir, program)]).status === 0);
const dockerMachine = onPath('docker-machine');
const machine = (args) => (dockerMachine ? { command: 'docker-machine', args } : undefined);

const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'], env: {} },
  { name: 'moor env web', args: [cli, 'env', 'web'], env: { MOOR_STORAGE_PATH: one }, dm: machine(['env', 'web']) },
  { name: 'moor url web', args: [cli, 'url', 'web'], env: { MOOR_STORAGE_PATH: one }, dm: machine(['url', 'web']) },
  {
    name: 'moor inspect web',
    args: [cli, 'inspect', 'web'],
    env: { MOOR_STORAGE_PATH: one },
    dm: machine(['inspect', 'web']),
  },
  { name: 'moor ls (1 machine)', args: [cli, 'ls'], env: { MOOR_STORAGE_PATH: one }, dm: machine(['ls']) },
  { name: 'moor ls (50 machines)', target: null, args: [cli, 'ls'], env: { MOOR_STORAGE_PATH: fifty } },
  { name: 'moor ls -q (50 machines)', args: [cli, 'ls', '-q'], env: { MOOR_STORAGE_PATH: fifty } },
  {
    name: 'moor active',
    args: [cli, 'active'],
    env: { MOOR_STORAGE_PATH: one, DOCKER_HOST: 'tcp://127.0.0.1:1' },
    dm: machine(['active']),
  },
  {
    name: 'moor create -d none',
    target: CREATE_TARGET,
    memoryTarget: null,
    args: () => [cli, 'create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', `m${created++}`],
    env: { MOOR_STORAGE_PATH: createStore },
  },
];
const argsOf = (entry) => (typeof entry.args === 'function' ? entry.args() : entry.args);
const time = cases.map(() => []);
const memory = cases.map(() => []);
const cpu = cases.map(() => []);
const machineTime = cases.map(() => []);
for (const entry of cases) run(node, argsOf(entry), entry.env); // warm the file cache
for (let round = 0; round < runs; round++) {
  // Each round starts one case later, so that no case always follows the same one (a create's fsyncs slowed
  // whatever came next, and that was always bare Node).
  cases.forEach((_, position) => {
    const index = (position + round) % cases.length;
    const entry = cases[index];
    time[index].push(run(node, argsOf(entry), entry.env));
    const { mb, cpuMs } = run(node, argsOf(entry), entry.env, true);
    memory[index].push(mb);
    cpu[index].push(cpuMs);
    if (entry.dm) {
      machineTime[index].push(
        run(entry.dm.command, entry.dm.args, { MACHINE_STORAGE_PATH: entry.env.MOOR_STORAGE_PATH }),
      );
    }
  });
}
rmSync(scratch, { recursive: true, force: true });

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const baseline = median(time[0]);
const baseMemory = median(memory[0]);
const baseCpu = median(cpu[0]);
console.log(
  `CLI latency and peak memory on Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}, ` +
    `median of ${runs} interleaved runs (targets: ${EVERYDAY_TARGET}x node -e 0 in time, ` +
    `${CREATE_TARGET}x for create -d none, ${MEMORY_TARGET}x in memory for the everyday commands)`,
);
if (extraCa !== undefined)
  console.log(`NODE_EXTRA_CA_CERTS (${extraCa}) left out of every case (--keep-extra-ca keeps it)`);
console.log(
  `${'case'.padEnd(28)}${'ms'.padStart(8)}${'ratio'.padStart(8)}${'cpu ms'.padStart(8)}${'ratio'.padStart(8)}` +
    `${'MB'.padStart(7)}${'ratio'.padStart(8)}` +
    (dockerMachine ? `${'docker-machine'.padStart(16)}` : ''),
);
let over = 0;
cases.forEach((entry, index) => {
  const ms = median(time[index]);
  const ratio = ms / baseline;
  const cpuMs = median(cpu[index]);
  const mb = median(memory[index]);
  const memoryRatio = mb / baseMemory;
  const target = entry.target === undefined ? EVERYDAY_TARGET : entry.target;
  const memoryTarget = entry.memoryTarget === undefined ? MEMORY_TARGET : entry.memoryTarget;
  const measuredOnly = target === null;
  const ok = index === 0 || measuredOnly || (ratio <= target && (memoryTarget === null || memoryRatio <= memoryTarget));
  if (!ok) over++;
  const dm = machineTime[index].length ? `${(ms / median(machineTime[index])).toFixed(2)}x of it`.padStart(16) : '';
  console.log(
    `${entry.name.padEnd(28)}${ms.toFixed(1).padStart(8)}${ratio.toFixed(2).padStart(8)}` +
      `${cpuMs.toFixed(1).padStart(8)}${(cpuMs / baseCpu).toFixed(2).padStart(8)}` +
      `${mb.toFixed(0).padStart(7)}${memoryRatio.toFixed(2).padStart(8)}${dm}${index === 0 ? '' : measuredOnly ? '  (no target)' : ok ? '  ok' : '  over target'}`,
  );
});
if (over > 0) console.log(`${over} case(s) over target (in wall time or memory)`);
console.log(
  `load average at the end: ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')} on ${cpus().length} cores`,
);
