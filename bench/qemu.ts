// The qemu driver's create-to-engine-ready time against the same steps done by hand in the same run
// (interleaved, so that both see the same machine load), medians of --runs runs (default 3):
//   by hand: qemu-img create (overlay), the seed ISO, qemu-system-x86_64 with the same arguments, wait for
//            the SSH banner, `ssh ... docker version` until it answers;
//   moor:    moor create --qemu-image-url <image with Docker> --engine-install-method none, broken down by
//            its progress lines (disk, QEMU start, boot to SSH, provisioning), then `moor ls` and `status`.
// Uses the test image with Docker preinstalled (test/helpers/vm-image.ts builds and caches it; root, QEMU).
// With --install, the image without Docker instead: by hand, `cloud-init status --wait`, then apt-get update
// and install docker.io over ssh; moor installs it as create does by default (--engine-install-method
// packages). That needs the VM to reach Debian's mirrors, and takes minutes per create under tcg.
// Target: moor adds at most 10% to the hand-run steps.
//   npm run build && node --import tsx bench/qemu.ts [--runs N] [--install]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { qemuArgs } from '../drivers/qemu/args.js';
import { buildSeedIso } from '../drivers/shared/vm/cloud-init.js';
import { freeLoopbackPort } from '../drivers/shared/vm/ports.js';
import { vmImages } from '../test/helpers/vm-image.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin/run.cjs');
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag === -1 ? 3 : Number(process.argv[runsFlag + 1]);
const install = process.argv.includes('--install');
const TARGET = 1.1;

const now = () => performance.now();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function must(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result;
}

function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(5_000, () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 500));
}

async function byHand(image: string): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'moor-bench-qemu-'));
  try {
    const t0 = now();
    must('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image, join(dir, 'disk.qcow2'), '20G']);
    must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    const publicKey = must('cat', [join(dir, 'key.pub')]).stdout;
    writeFileSync(
      join(dir, 'seed.iso'),
      buildSeedIso({
        hostname: 'hand',
        instanceId: `hand-${Date.now()}`,
        user: 'docker',
        sshPublicKey: publicKey,
        nics: [{ id: 'eth0', mac: '52:54:00:00:00:01', setName: 'eth0' }],
      }),
    );
    const port = await freeLoopbackPort();
    const t1 = now();
    must(
      'qemu-system-x86_64',
      qemuArgs({
        name: 'hand',
        arch: 'x86_64',
        accel: 'tcg',
        memoryMb: 2048,
        cpus: 2,
        disk: join(dir, 'disk.qcow2'),
        seed: join(dir, 'seed.iso'),
        mac: '52:54:00:00:00:01',
        network: { kind: 'user', sshPort: port },
        qmpSocket: join(dir, 'qmp.sock'),
        pidFile: join(dir, 'qemu.pid'),
        serialLog: join(dir, 'console.log'),
      }),
    );
    const t2 = now();
    await until(() => banner(port));
    const t3 = now();
    const ssh = ['-i', join(dir, 'key'), '-p', String(port), '-o', 'StrictHostKeyChecking=no'];
    ssh.push('-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'docker@127.0.0.1');
    let t35 = t3;
    if (install) {
      // As one would by hand: wait for cloud-init (its apt sources), then install Debian's docker.io.
      const steps =
        'cloud-init status --wait >/dev/null; sudo apt-get update -q && sudo apt-get install -y -q docker.io';
      await until(() => spawnSync('ssh', [...ssh, steps], { stdio: 'ignore' }).status === 0);
      t35 = now();
    }
    await until(() => spawnSync('ssh', [...ssh, 'sudo docker version'], { stdio: 'ignore' }).status === 0);
    const t4 = now();
    spawnSync('sh', ['-c', `kill -9 $(cat ${join(dir, 'qemu.pid')})`]);
    return {
      disk: t1 - t0,
      qemu: t2 - t1,
      ssh: t3 - t2,
      ...(install ? { install: t35 - t3 } : {}),
      engine: t4 - t35,
      total: t4 - t0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function byMoor(image: string): Record<string, number> {
  const store = mkdtempSync(join(tmpdir(), 'moor-bench-qemu-store-'));
  const env = { ...process.env, MOOR_STORAGE_PATH: store };
  try {
    const t0 = now();
    const created = must(
      process.execPath,
      // tcg as by hand (auto would probe KVM first, and here a KVM that passes the probe can still fail to boot).
      [
        cli,
        'create',
        '--qemu-accel',
        'tcg',
        '--qemu-image-url',
        image,
        ...(install ? [] : ['--engine-install-method', 'none']),
        '--ssh-timeout',
        '1200',
        'b',
      ],
      env,
    );
    const total = now() - t0;
    // The progress lines' timestamps break the create down.
    const at = (text: string) => {
      const line = created.stderr.split('\n').find((candidate) => candidate.includes(text));
      return line ? Date.parse(line.slice(0, 24)) : NaN;
    };
    const first = at('Running pre-create checks');
    const t1 = now();
    must(process.execPath, [cli, 'ls'], env);
    const ls = now() - t1;
    const t2 = now();
    must(process.execPath, [cli, 'status', 'b'], env);
    const status = now() - t2;
    must(process.execPath, [cli, 'rm', '-y', 'b'], env);
    return {
      checks: at('Creating the machine with') - first,
      disk: at('Starting QEMU') - at('Getting the machine image'),
      ssh: at('Issuing the server certificate') - at('Waiting for the machine to boot'),
      // Provisioning: SSH, sudo and the OS; the install step; the configure step (it waits for a starting
      // engine); the engine's check.
      connect: at('Installing Docker') - at('Issuing the server'),
      install: at('Configuring the Docker engine') - at('Installing Docker'),
      configure: at('Waiting for the Docker engine') - at('Configuring the Docker engine'),
      engine:
        Date.parse(
          created.stderr
            .split('\n')
            .filter((line) => /^\d{4}-\d\d-\d\dT/.test(line))
            .at(-1)!
            .slice(0, 24),
        ) - at('Waiting for the Docker engine'),
      total,
      ls,
      status,
    };
  } finally {
    spawnSync(process.execPath, [cli, 'rm', '-y', '--force', 'b'], { env, stdio: 'ignore' });
    rmSync(store, { recursive: true, force: true });
  }
}

const image = install ? vmImages().base : vmImages().docker;
const hand: Record<string, number>[] = [];
const moor: Record<string, number>[] = [];
for (let run = 1; run <= runs; run++) {
  hand.push(await byHand(image));
  moor.push(byMoor(image));
  console.error(`run ${run}/${runs}: by hand ${seconds(hand.at(-1)!.total!)}, moor ${seconds(moor.at(-1)!.total!)}`);
}
const medians = (rows: Record<string, number>[]) =>
  Object.fromEntries(Object.keys(rows[0]!).map((key) => [key, median(rows.map((row) => row[key]!))]));
const handMedian = medians(hand);
const moorMedian = medians(moor);
console.log(
  `qemu driver, tcg, ${install ? 'Docker installed by apt' : 'Docker preinstalled'}, medians of ${runs} runs`,
);
console.log(
  'by hand:',
  Object.entries(handMedian)
    .map(([k, v]) => `${k} ${seconds(v)}`)
    .join(', '),
);
console.log(
  'moor:   ',
  Object.entries(moorMedian)
    .map(([k, v]) => `${k} ${k === 'ls' || k === 'status' ? `${v.toFixed(0)} ms` : seconds(v)}`)
    .join(', '),
);
const ratio = moorMedian['total']! / handMedian['total']!;
console.log(`create to engine ready: moor / by hand = ${ratio.toFixed(2)} (target <= ${TARGET})`);
