/**
 * The ssh transport: the engine listens on no TCP port, and moor carries the Docker API over SSH:
 * `moor docker NAME -- ...` (stdin, exit codes), and `moor tunnel` serving many docker clients and
 * surviving a killed SSH connection. TLS machines work through `moor docker` too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, docker, hostOut, hostsOrPlaceholder } from './generic-helpers.js';
import { assertCleanError, assertExit, TempStore } from './helpers.js';

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
      const env = await store.moor(['env', 'viassh']);
      assertCleanError(env, 1, 'uses the ssh transport', 'moor docker viassh');
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
      const tunnel = spawn(process.execPath, ['bin/run.js', 'tunnel', 'viassh', '--socket', store.path('t.sock')], {
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
  });
}
