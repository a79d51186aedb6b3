/**
 * Day-two operations on a provisioned machine: scp both ways (and a folder, and machine to machine),
 * regenerate-certs (docker keeps working; with --client-certs the old client certificate is rejected),
 * and upgrade with the method Docker was installed with.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, docker, hostOut, hostsOrPlaceholder, machineEnv } from './generic-helpers.js';
import { assertCleanError, assertExit, TempStore } from './helpers.js';

if (hostsOrPlaceholder('generic day-two operations')) {
  describe('generic day-two operations', () => {
    let host: TestHost;
    let store: TempStore;
    const name = 'day2';

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('gen-day2'), ip: await allocateIp(), withDocker: true });
        assertExit(await createGeneric(store, name, host), 0, 'create');
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('scp copies a file there and back, a folder with -r, and between two paths of machines', async () => {
      const local = store.path('hello.txt');
      await writeFile(local, 'hello from here\n');
      assertExit(await store.moor(['scp', '-q', local, `${name}:/tmp/hello.txt`]), 0, 'scp up');
      assert.equal(await hostOut(host, 'cat /tmp/hello.txt'), 'hello from here');

      await host.exec("printf 'from the host\\n' > /tmp/there.txt");
      const back = store.path('there.txt');
      assertExit(await store.moor(['scp', '-q', `${name}:/tmp/there.txt`, back]), 0, 'scp down');
      assert.equal(await readFile(back, 'utf8'), 'from the host\n');

      const dir = store.path('tree');
      await mkdir(store.path('tree', 'sub'), { recursive: true });
      await writeFile(store.path('tree', 'sub', 'a.txt'), 'a\n');
      assertExit(await store.moor(['scp', '-q', '-r', dir, `${name}:/tmp/`]), 0, 'scp -r');
      assert.equal(await hostOut(host, 'cat /tmp/tree/sub/a.txt'), 'a');

      assertExit(await store.moor(['scp', '-q', `${name}:/tmp/hello.txt`, `${name}:/tmp/copy.txt`]), 0, 'scp -3');
      assert.equal(await hostOut(host, 'cat /tmp/copy.txt'), 'hello from here');

      const missing = await store.moor(['scp', '-q', `${name}:/no/such/file`, store.path('x')]);
      assert.notEqual(missing.code, 0, 'a missing remote file fails');
      assert.match(missing.stderr, /No such file or directory/);
    });

    it('scp checks the pinned host key and refuses a machine it does not know', async () => {
      const unknown = await store.moor(['scp', store.path('hello.txt'), 'nope:/tmp/']);
      assertCleanError(unknown, 1, 'Machine "nope" does not exist');
    });

    it('regenerate-certs: a new server certificate is installed and docker keeps working', async () => {
      const before = new X509Certificate(await readFile(store.path('machines', name, 'server.pem')));
      const refused = await store.moor(['regenerate-certs', name]);
      assertCleanError(refused, 2, 'without confirmation');

      assertExit(await store.moor(['regenerate-certs', '-f', name]), 0, 'regenerate-certs');
      const after = new X509Certificate(await readFile(store.path('machines', name, 'server.pem')));
      assert.notEqual(after.serialNumber, before.serialNumber);
      assert.equal(
        await hostOut(host, 'cat /etc/docker/server.pem'),
        (await readFile(store.path('machines', name, 'server.pem'), 'utf8')).trim(),
      );
      const env = await machineEnv(store, name);
      assertExit(await docker(['version', '--format', '{{.Server.Version}}'], env), 0, 'docker after regenerate');
    });

    it('regenerate-certs --client-certs: the new client certificate works, the old one is rejected', async () => {
      const oldCerts = store.path('old-certs');
      await cp(store.path('machines', name), oldCerts, { recursive: true });
      const oldCa = await readFile(store.path('certs', 'ca.pem'), 'utf8');

      assertExit(
        await store.moor(['regenerate-certs', '-f', '--client-certs', name]),
        0,
        'regenerate-certs --client-certs',
      );
      assert.notEqual(await readFile(store.path('certs', 'ca.pem'), 'utf8'), oldCa, 'the store has a new CA');
      const env = await machineEnv(store, name);
      const fresh = await docker(['version', '--format', '{{.Server.Version}}'], env);
      assertExit(fresh, 0, 'docker with the new client certificate');

      const stale = await docker(['version', '--format', '{{.Server.Version}}'], {
        ...env,
        DOCKER_CERT_PATH: oldCerts,
      });
      assert.notEqual(stale.code, 0, 'the old client certificate must be rejected');
      assert.match(stale.stderr, /certificate|tls/i);
    });

    it('moor use: the real docker CLI reaches the engine through the moor context', async () => {
      const dockerConfig = store.path('docker-config');
      await mkdir(dockerConfig, { recursive: true });
      assertExit(await store.moor(['use', name], { env: { DOCKER_CONFIG: dockerConfig } }), 0, 'use');
      const info = await docker(['--context', `moor-${name}`, 'info', '--format', '{{.Name}}'], {
        DOCKER_CONFIG: dockerConfig,
      });
      assertExit(info, 0, 'docker --context info');
      assert.equal(info.stdout.trim(), name, 'the engine reports the machine name as its host name');
      const current = await docker(['version', '--format', '{{.Server.Version}}'], { DOCKER_CONFIG: dockerConfig });
      assertExit(current, 0, 'docker with the current context');
    });

    it('upgrade uses the install method (packages) and leaves a current engine running', async () => {
      const version = (await hostOut(host, "docker version --format '{{.Server.Version}}'")).trim();
      const result = await store.moor(['upgrade', name], { timeoutMs: 300_000 });
      assertExit(result, 0, 'upgrade');
      assert.match(result.stdout, new RegExp(`^${name}: Docker ${version.replace(/[.+]/g, '\\$&')}`, 'm'));
      const env = await machineEnv(store, name);
      assertExit(await docker(['version'], env), 0, 'docker after upgrade');
      const inspect = await store.moor(['inspect', '-f', '{{.Provision.EngineVersion}}', name]);
      assert.equal(inspect.stdout.trim(), version);
    });
  });
}
