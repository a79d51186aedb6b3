/**
 * 50 sequential `docker version` calls against one machine, four ways, in the same run:
 *   moor tunnel (one SSH connection, a channel per client), an OpenSSH socket forward
 *   (`ssh -N -L local.sock:/var/run/docker.sock`, the floor), the docker CLI's own `-H ssh://`, and
 *   direct TLS; plus `moor docker NAME -- version` (a new moor process each time, connection included)
 *   against `docker -H ssh://` version, for a TLS machine and for an ssh-transport machine (with a new SSH
 *   connection per command, and reusing `moor tunnel --background`). Runs as root on a real test host (test/e2e/testhost).
 *   npm run build && node --import tsx bench/tunnel.ts [--calls N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocateIp, cleanupHosts, hostName, testHostsAvailable, upHost } from '../test/helpers/testhost.js';

const cli = fileURLToPath(new URL('../bin/run.cjs', import.meta.url));
const callsFlag = process.argv.indexOf('--calls');
const calls = callsFlag === -1 ? 50 : Number(process.argv[callsFlag + 1]);

function run(command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
}

function timeCalls(command: string, args: string[], env: NodeJS.ProcessEnv, count = calls): number {
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index++) run(command, args, env);
  return Number(process.hrtime.bigint() - started) / 1e6 / count;
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !check(); tries++) await new Promise((resolve) => setTimeout(resolve, 50));
}

const available = testHostsAvailable();
if (!available.ok) {
  console.error(`bench/tunnel: test hosts are not available here (${available.reason}).`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'moor-bench-tunnel-'));
const store = join(dir, 'store');
const children: ReturnType<typeof spawn>[] = [];
try {
  const host = await upHost({ name: hostName('bench-tun'), ip: await allocateIp(), withDocker: true });
  const env = { ...process.env, MOOR_STORAGE_PATH: store };
  run(
    process.execPath,
    [cli, 'create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', host.keyPath, 'bench'],
    env,
  );
  const version = ['version', '--format', '{{.Server.Version}}'];
  const clean = { ...process.env };
  for (const key of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT']) delete clean[key];

  // moor tunnel
  const moorSocket = join(dir, 'moor.sock');
  children.push(spawn(process.execPath, [cli, 'tunnel', 'bench', '--socket', moorSocket], { env, stdio: 'ignore' }));
  await waitFor(() => spawnSync('test', ['-S', moorSocket]).status === 0);
  // OpenSSH forward (the floor)
  const sshSocket = join(dir, 'openssh.sock');
  children.push(
    spawn('ssh', ['-nNT', '-L', `${sshSocket}:/var/run/docker.sock`, ...host.sshArgs('root')], { stdio: 'ignore' }),
  );
  await waitFor(() => spawnSync('test', ['-S', sshSocket]).status === 0);
  // docker -H ssh:// runs plain `ssh`: a wrapper with the test key and no known_hosts prompt.
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(
    join(bin, 'ssh'),
    `#!/bin/sh\nexec /usr/bin/ssh -i ${host.keyPath} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$@"\n`,
  );
  chmodSync(join(bin, 'ssh'), 0o755);
  const sshEnv = { ...clean, PATH: `${bin}:${process.env['PATH'] ?? ''}`, DOCKER_HOST: `ssh://root@${host.ip}` };
  const tls = Object.fromEntries(
    spawnSync(process.execPath, [cli, 'env', 'bench'], { env, encoding: 'utf8' })
      .stdout.split('\n')
      .map((line) => /^export (\w+)="(.*)"$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  );

  const results: [string, number][] = [];
  results.push([
    'OpenSSH -L socket forward (floor)',
    timeCalls('docker', version, { ...clean, DOCKER_HOST: `unix://${sshSocket}` }),
  ]);
  results.push(['moor tunnel', timeCalls('docker', version, { ...clean, DOCKER_HOST: `unix://${moorSocket}` })]);
  results.push(['docker -H ssh://', timeCalls('docker', version, sshEnv)]);
  results.push(['direct TLS', timeCalls('docker', version, { ...clean, ...tls })]);
  const moorDocker = timeCalls(process.execPath, [cli, 'docker', 'bench', '--', ...version], env, Math.min(calls, 20));
  // An ssh-transport machine (a second host: its engine has no TCP listener): moor docker with a fresh SSH
  // connection per command, then reusing a background tunnel.
  const sshHost = await upHost({ name: hostName('bench-tun2'), ip: await allocateIp(), withDocker: true });
  run(
    process.execPath,
    [
      cli,
      'create',
      '-d',
      'generic',
      '--generic-ip-address',
      sshHost.ip,
      '--generic-ssh-key',
      sshHost.keyPath,
      '--engine-transport',
      'ssh',
      'benchssh',
    ],
    env,
  );
  const moorDockerSsh = ['docker', 'benchssh', '--', ...version];
  const freshSsh = timeCalls(process.execPath, [cli, ...moorDockerSsh], env, Math.min(calls, 20));
  run(process.execPath, [cli, 'tunnel', '--background', 'benchssh'], env);
  const reusedSsh = timeCalls(process.execPath, [cli, ...moorDockerSsh], env, Math.min(calls, 20));
  run(process.execPath, [cli, 'tunnel', '--stop', 'benchssh'], env);
  const floor = results[0]![1];
  console.log(`docker version, mean of ${calls} sequential calls per way`);
  for (const [name, ms] of results)
    console.log(`${name.padEnd(36)}${ms.toFixed(1).padStart(8)} ms  ${(ms / floor).toFixed(2)}x floor`);
  const sshMs = results[2]![1];
  const tunnelMs = results[1]![1];
  console.log(
    `moor tunnel vs OpenSSH forward: ${(tunnelMs / floor).toFixed(2)}x (target <= 1.2x); vs -H ssh://: ${(sshMs / tunnelMs).toFixed(1)}x faster (target >= 8x)`,
  );
  console.log(
    `moor docker NAME -- version (new process each time), TLS machine: ${moorDocker.toFixed(1)} ms; -H ssh:// is ${(sshMs / moorDocker).toFixed(1)}x slower (target >= 2x)`,
  );
  console.log(
    `moor docker NAME -- version, ssh machine, new SSH connection each time: ${freshSsh.toFixed(1)} ms (${(sshMs / freshSsh).toFixed(1)}x vs -H ssh://)`,
  );
  console.log(
    `moor docker NAME -- version, ssh machine, background tunnel reused: ${reusedSsh.toFixed(1)} ms; -H ssh:// is ${(sshMs / reusedSsh).toFixed(1)}x slower (target >= 2x)`,
  );
} finally {
  for (const child of children) child.kill('SIGINT');
  await cleanupHosts();
  rmSync(dir, { recursive: true, force: true });
}
