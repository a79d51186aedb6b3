/**
 * Re-provisioning a host that already has Docker, as a ratio to the floor measured in the same run on the
 * same host: one SSH connection and command (OpenSSH's client) that restarts dockerd, which is the least a
 * provisioner that always restarts the engine must pay. Runs as root on a real test host (see
 * test/e2e/testhost). Target: re-provision in under 2x that floor.
 *   npm run build && node --import tsx bench/provision.ts [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocateIp, cleanupHosts, hostName, testHostsAvailable, upHost } from '../test/helpers/testhost.js';

const cli = fileURLToPath(new URL('../bin/run.cjs', import.meta.url));
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag === -1 ? 9 : Number(process.argv[runsFlag + 1]);
const TARGET = 2;

function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const available = testHostsAvailable();
if (!available.ok) {
  console.error(`bench/provision: test hosts are not available here (${available.reason}).`);
  process.exit(1);
}
const store = mkdtempSync(join(tmpdir(), 'moor-bench-provision-'));
const env = { ...process.env, MOOR_STORAGE_PATH: store };
try {
  const host = await upHost({ name: hostName('bench'), ip: await allocateIp(), withDocker: true });
  timed(
    process.execPath,
    [cli, 'create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', host.keyPath, 'bench'],
    env,
  );
  const floor: number[] = [];
  const provision: number[] = [];
  // reset-failed clears systemd's start rate limit (docker.service allows 3 starts a minute), not the floor's work.
  const restart =
    'systemctl reset-failed docker.service docker.socket; systemctl restart docker.socket docker.service && docker version >/dev/null';
  for (let round = 0; round < runs; round++) {
    floor.push(timed('ssh', [...host.sshArgs('root'), restart]));
    provision.push(timed(process.execPath, [cli, 'provision', 'bench'], env));
  }
  const floorMs = median(floor);
  const provisionMs = median(provision);
  const ratio = provisionMs / floorMs;
  console.log(
    `Re-provision of a host that already runs Docker, median of ${runs} interleaved runs (target: under ${TARGET}x the floor)`,
  );
  console.log(`${'floor: ssh + restart dockerd'.padEnd(36)}${floorMs.toFixed(0).padStart(8)} ms`);
  console.log(
    `${'moor provision'.padEnd(36)}${provisionMs.toFixed(0).padStart(8)} ms   ratio ${ratio.toFixed(2)}${ratio < TARGET ? '  ok' : '  over target'}`,
  );
} finally {
  await cleanupHosts();
  rmSync(store, { recursive: true, force: true });
}
