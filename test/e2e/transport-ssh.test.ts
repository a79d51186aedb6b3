/**
 * The ssh transport: the engine listens on no TCP port, and moor carries the Docker API over SSH:
 * `moor docker NAME -- ...` (stdin, exit codes), and `moor tunnel` serving many docker clients and
 * surviving a killed SSH connection. TLS machines work through `moor docker` too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import {
  createGeneric,
  docker,
  hostEngineVersion,
  hostOut,
  hostsOrPlaceholder,
  machineEnv,
} from './generic-helpers.js';
import { assertCleanError, assertExit, exists, run, TempStore } from './helpers.js';

if (hostsOrPlaceholder('ssh transport')) {
  describe('ssh transport', () => {
    let host: TestHost;
    let store: TempStore;
    let image: string;

    before(
      async () => {
        store = await TempStore.create();
        image = await buildBusyboxImageTar(store.path());
        host = await upHost({ name: hostName('gen-sshtr'), ip: await allocateIp(), withDocker: true });
        const created = await createGeneric(store, 'viassh', host, { extra: ['--engine-transport', 'ssh'] });
        assertExit(created, 0, 'create --engine-transport ssh');
        assert.match(created.stderr, /moor docker viassh -- ps/);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('the engine listens on no TCP port and has no TLS configuration', async () => {
      const listening = await hostOut(host, "ss -ltn | awk '{print $4}'");
      assert.doesNotMatch(listening, /:2376$/m);
      const daemon = JSON.parse(await hostOut(host, 'cat /etc/docker/daemon.json')) as Record<string, unknown>;
      assert.equal(daemon['tlsverify'], undefined);
      const ls = await store.moor(['ls', '--format', '{{.URL}} {{.DockerVersion}}']);
      assert.match(ls.stdout.trim(), new RegExp(`^ssh://root@${host.ip.replace(/\./g, '\\.')}:22 v\\S+$`));
    });

    it('moor docker: import from stdin, run, exit codes and stdin pass through', async () => {
      const imported = await store.moor(['docker', 'viassh', '--', 'import', image, 'moor-test/busybox'], {
        timeoutMs: 120_000,
      });
      assertExit(imported, 0, 'docker import');
      const hi = await store.moor(['docker', 'viassh', '--', 'run', '--rm', 'moor-test/busybox', 'echo', 'hi']);
      assertExit(hi, 0, 'docker run');
      assert.equal(hi.stdout.trim(), 'hi');
      const five = await store.moor([
        'docker',
        'viassh',
        '--',
        'run',
        '--rm',
        'moor-test/busybox',
        'sh',
        '-c',
        'exit 5',
      ]);
      assert.equal(five.code, 5, 'the exit status of the container passes through');
      const cat = await store.moor(['docker', 'viassh', '--', 'run', '--rm', '-i', 'moor-test/busybox', 'cat'], {
        input: 'scripted stdin\n',
      });
      assertExit(cat, 0, 'docker run -i');
      assert.equal(cat.stdout, 'scripted stdin\n');
    });

    it('moor tunnel serves 20 concurrent docker clients and survives a killed SSH connection', async () => {
      const tunnel = spawn(process.execPath, ['bin/run.cjs', 'tunnel', 'viassh', '--socket', store.path('t.sock')], {
        env: { ...process.env, MOOR_STORAGE_PATH: store.root },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const dockerHost = await new Promise<string>((resolve, reject) => {
          let out = '';
          tunnel.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const match = /^DOCKER_HOST=(\S+)$/m.exec(out);
            if (match) resolve(match[1]!);
          });
          tunnel.on('exit', (code) => reject(new Error(`tunnel exited ${code}`)));
        });
        assert.equal(dockerHost, `unix://${store.path('t.sock')}`);
        const env = { DOCKER_HOST: dockerHost };
        const results = await Promise.all(
          Array.from({ length: 20 }, () => docker(['version', '--format', '{{.Server.Version}}'], env)),
        );
        for (const result of results) assertExit(result, 0, 'docker version through the tunnel');

        // Kill the host side of moor's SSH connection; the next request goes through a new one.
        await host.exec("pkill -f 'sshd: root@notty' || true");
        const after = await docker(['version', '--format', '{{.Server.Version}}'], env);
        assertExit(after, 0, 'docker version after the SSH connection was killed');
      } finally {
        tunnel.kill('SIGINT');
      }
    });

    it('tunnel --background: one detached tunnel, reused, shown in ls, stopped with --stop', async () => {
      const machineDir = store.machineDir('viassh');
      const started = await store.moor(['tunnel', '--background', 'viassh']);
      assertExit(started, 0, 'tunnel --background');
      const dockerHost = started.stdout.trim();
      assert.equal(dockerHost, `unix://${machineDir}/docker.sock`);
      assert.match(started.stderr, /Started the background tunnel to viassh \(pid \d+\)/);
      const record = JSON.parse(await readFile(join(machineDir, 'tunnel.json'), 'utf8')) as { Pid: number };
      assert.equal((await stat(join(machineDir, 'tunnel.json'))).mode & 0o777, 0o600);
      assert.equal((await stat(`${machineDir}/docker.sock`)).mode & 0o777, 0o600);
      process.kill(record.Pid, 0); // alive, and not a child of the command that started it
      try {
        const version = await docker(['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: dockerHost });
        assertExit(version, 0, 'docker version through the background tunnel');

        const again = await store.moor(['tunnel', '--background', 'viassh']);
        assertExit(again, 0, 'second tunnel --background');
        assert.equal(again.stdout.trim(), dockerHost);
        assert.match(again.stderr, new RegExp(`Reusing the background tunnel to viassh \\(pid ${record.Pid}\\)`));
        const json = await store.moor(['tunnel', '--background', 'viassh', '--json']);
        assertExit(json, 0, 'tunnel --background --json');
        assert.deepEqual(JSON.parse(json.stdout), { name: 'viassh', dockerHost, pid: record.Pid, started: false });
        const foregroundJson = await store.moor(['tunnel', 'viassh', '--json']);
        assert.equal(foregroundJson.code, 2, 'a foreground tunnel has no JSON document to print');
        const elsewhere = await store.moor(['tunnel', '--background', 'viassh', '--port', '1']);
        assertCleanError(elsewhere, 1, 'has a background tunnel running already', 'moor tunnel --stop viassh');

        // ls: a TUNNEL column, and the engine version asked through the tunnel.
        const ls = await store.moor(['ls']);
        assertExit(ls, 0, 'ls');
        const [header, row] = ls.stdout.trim().split('\n');
        assert.match(header!, /\bTUNNEL$/);
        assert.ok(row!.endsWith(dockerHost), row);
        assert.ok(row!.includes(` v${await hostEngineVersion(host)} `), row);
        const active = await store.moor(['ls', '--format', '{{.Name}} {{.Active}}'], {
          env: { DOCKER_HOST: dockerHost },
        });
        assert.equal(active.stdout.trim(), 'viassh *', 'DOCKER_HOST of the tunnel marks the machine active');

        // moor docker reuses it: no new SSH login on the host.
        const logins = () => hostOut(host, "journalctl -u ssh --no-pager | grep -c 'Accepted publickey' || true");
        const before = Number(await logins());
        const viaMoor = await store.moor(['docker', 'viassh', '--', 'version', '--format', '{{.Server.Version}}']);
        assertExit(viaMoor, 0, 'moor docker through the background tunnel');
        assert.equal(Number(await logins()), before, 'moor docker made no SSH connection of its own');

        // env and use point at the same socket.
        const env = await store.moor(['env', 'viassh'], {
          env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/elsewhere' },
        });
        assertExit(env, 0, 'env of an ssh machine');
        assert.match(env.stdout, new RegExp(`^export DOCKER_HOST="${dockerHost}"$`, 'm'));
        assert.match(env.stdout, /^unset DOCKER_TLS_VERIFY$/m);
        assert.match(env.stdout, /^unset DOCKER_CERT_PATH$/m);
        assert.match(env.stderr, new RegExp(`background tunnel \\(pid ${record.Pid}\\)`));
        const evaluated = await run('sh', ['-c', `eval "$(cat)"; docker version --format '{{.Server.Version}}'`], {
          input: env.stdout,
          env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/elsewhere' },
        });
        assertExit(evaluated, 0, 'docker after eval $(moor env viassh)');

        const dockerConfig = store.path('docker-config');
        const used = await store.moor(['use', 'viassh'], { env: { DOCKER_CONFIG: dockerConfig } });
        assertExit(used, 0, 'use of an ssh machine');
        const info = await docker(['--context', 'moor-viassh', 'info', '--format', '{{.ServerVersion}}'], {
          DOCKER_CONFIG: dockerConfig,
        });
        assertExit(info, 0, 'docker --context moor-viassh info');
        assert.equal(info.stdout.trim(), await hostEngineVersion(host));
      } finally {
        const stopped = await store.moor(['tunnel', '--stop', 'viassh']);
        assertExit(stopped, 0, 'tunnel --stop');
      }
      assert.throws(() => process.kill(record.Pid, 0), /ESRCH/, 'the tunnel process is gone');
      assert.equal(await exists(`${machineDir}/docker.sock`), false, 'its socket is removed');
      assert.equal(await exists(join(machineDir, 'tunnel.json')), false, 'its record is removed');
      const ls = await store.moor(['ls']);
      assert.doesNotMatch(ls.stdout, /TUNNEL/, 'no TUNNEL column without tunnels');
      const twice = await store.moor(['tunnel', '--stop', 'viassh']);
      assertCleanError(twice, 1, 'has no background tunnel running', 'moor tunnel --background viassh');
    });

    it('env starts the background tunnel on demand; rm stops it', async () => {
      const env = await store.moor(['env', 'viassh']);
      assertExit(env, 0, 'env');
      assert.match(env.stderr, /background tunnel \(pid (\d+), started now\)/);
      const pid = Number(/pid (\d+)/.exec(env.stderr)![1]);
      const vars = await machineEnv(store, 'viassh');
      const version = await docker(['version', '--format', '{{.Server.Version}}'], vars);
      assertExit(version, 0, 'docker version with the env of an ssh machine');
      assertExit(await store.moor(['rm', '-y', 'viassh']), 0, 'rm');
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'rm stopped the tunnel');
    });
  });
}
