/**
 * Forming a Swarm mode cluster from N machines that already run (N = 1, 3, 5; creates are not counted)
 * with moor, two ways: in one command (`moor swarm init M W...`: the others join as soon as the swarm
 * exists) and in two (`moor swarm init M`, then `moor swarm join --manager M W...`), against the same steps
 * by hand over OpenSSH (`docker swarm init`, `docker swarm join-token -q`, then `docker swarm join` on the
 * others, in parallel), interleaved in one run on the same test hosts. Target: joins in parallel make N=5
 * cost at most 1.5x N=1 (N=1 is the same command either way: `moor swarm init M`).
 * Runs as root on real test hosts (see test/e2e/testhost).
 *   npm run build && node --import tsx bench/swarm.ts [--runs N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  allocateIp,
  cleanupHosts,
  hostName,
  testHostsAvailable,
  upHost,
  type TestHost,
} from '../test/helpers/testhost.js';

const cli = fileURLToPath(new URL('../bin/run.cjs', import.meta.url));
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag === -1 ? 3 : Number(process.argv[runsFlag + 1]);
const SIZES = [1, 3, 5];
const TARGET = 1.5;

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const available = testHostsAvailable();
if (!available.ok) {
  console.error(`bench/swarm: test hosts are not available here (${available.reason}).`);
  process.exit(1);
}
const store = mkdtempSync(join(tmpdir(), 'moor-bench-swarm-'));
const env = { ...process.env, MOOR_STORAGE_PATH: store };
const moor = (args: string[]) => run(process.execPath, [cli, ...args], env);
const ssh = (host: TestHost, command: string) => run('ssh', [...host.sshArgs('root'), command]);

try {
  const max = Math.max(...SIZES);
  const hosts = await Promise.all(
    Array.from({ length: max }, async (_, index) =>
      upHost({ name: hostName(`bench-sw${index + 1}`), ip: await allocateIp(), withDocker: true }),
    ),
  );
  const names = hosts.map((_, index) => `n${index + 1}`);
  await Promise.all(
    hosts.map((host, index) =>
      moor([
        'create',
        '-d',
        'generic',
        '--generic-ip-address',
        host.ip,
        '--generic-ssh-key',
        host.keyPath,
        names[index]!,
      ]),
    ),
  );

  /** Every engine out of any swarm, and (with moor's records) every record without a membership. */
  const reset = async (size: number, records: boolean) => {
    await Promise.all(
      hosts.slice(0, size).map((host) => ssh(host, 'docker swarm leave --force >/dev/null 2>&1; true')),
    );
    if (records) await moor(['swarm', 'leave', '-f', ...names.slice(0, size)]).catch(() => undefined);
  };

  const byMoor = async (size: number) => {
    await moor(['swarm', 'init', ...names.slice(0, size)]);
  };
  const byMoorTwice = async (size: number) => {
    await moor(['swarm', 'init', names[0]!]);
    await moor(['swarm', 'join', '--manager', names[0]!, ...names.slice(1, size)]);
  };
  const byHand = async (size: number) => {
    const [first, ...others] = hosts.slice(0, size);
    await ssh(first!, `docker swarm init --advertise-addr ${first!.ip} >/dev/null`);
    if (others.length === 0) return;
    const token = (await ssh(first!, 'docker swarm join-token -q worker')).trim();
    await Promise.all(
      others.map((host) => ssh(host, `docker swarm join --token ${token} ${first!.ip}:2377 >/dev/null`)),
    );
  };

  const results = new Map<number, { moor: number[]; twice: number[]; hand: number[] }>(
    SIZES.map((n) => [n, { moor: [], twice: [], hand: [] }]),
  );
  for (let round = 0; round < runs; round++) {
    for (const size of SIZES) {
      const result = results.get(size)!;
      result.hand.push(await timed(() => byHand(size)));
      await reset(size, false);
      result.moor.push(await timed(() => byMoor(size)));
      await reset(size, true);
      if (size === 1) continue; // the same command as above
      result.twice.push(await timed(() => byMoorTwice(size)));
      await reset(size, true);
    }
  }
  const one = results.get(1)!;
  one.twice = one.moor;

  const ms = (values: number[]) => `${median(values).toFixed(0)} ms`;
  console.log(
    `Forming a swarm of N running machines, median of ${runs} interleaved runs (load ${loadavg()[0]!.toFixed(2)})`,
  );
  console.log(
    `${'N'.padEnd(4)}${'by hand (ssh)'.padStart(16)}${'moor, 1 command'.padStart(18)}${'moor/hand'.padStart(12)}${'moor, init + join'.padStart(20)}`,
  );
  for (const size of SIZES) {
    const { moor: moorRuns, twice, hand } = results.get(size)!;
    const ratio = median(moorRuns) / median(hand);
    console.log(
      `${String(size).padEnd(4)}${ms(hand).padStart(16)}${ms(moorRuns).padStart(18)}${ratio.toFixed(2).padStart(12)}${ms(twice).padStart(20)}`,
    );
  }
  const scale = median(results.get(max)!.moor) / median(one.moor);
  const scaleTwice = median(results.get(max)!.twice) / median(one.moor);
  console.log(
    `moor N=${max} / N=1, one command: ${scale.toFixed(2)} (target: at most ${TARGET})${scale <= TARGET ? '  ok' : '  over target'}`,
  );
  console.log(`moor N=${max} / N=1, init then join (a second process): ${scaleTwice.toFixed(2)}`);
} finally {
  await cleanupHosts();
  rmSync(store, { recursive: true, force: true });
}
