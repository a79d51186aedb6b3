/**
 * The generic driver with non-root SSH users, on one fresh Debian 12 host whose sshd listens on port 2222:
 * `nosudo` (no sudo rights) is refused before anything changes on the host; `docker` (passwordless sudo) gets a
 * working engine over TLS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import {
  createGeneric,
  docker,
  hostEngineVersion,
  hostOut,
  hostsOrPlaceholder,
  lsRow,
  machineEnv,
  show,
} from './generic-helpers.js';
import { assertCleanError, assertExit, parseJson, TempStore } from './helpers.js';

const SSH_PORT = 2222;

if (hostsOrPlaceholder('generic driver with sudo and non-sudo users on port 2222')) {
  describe('generic driver with sudo and non-sudo users on port 2222', () => {
    let host: TestHost;
    let store: TempStore;
    /** What the host looks like before moor touches it (to prove that the nosudo attempt changed nothing). */
    let pristine: string;
    /** stderr of `create -D` as docker (its debug lines carry the provisioning scripts' output). */
    let sudoCreateStderr = '';
    const snapshot = () =>
      hostOut(
        host,
        'hostname; ls -a /etc/docker 2>&1; ls /etc/systemd/system/docker.service.d 2>&1; ' +
          "command -v dockerd || echo no-dockerd; dpkg-query -W -f '${Status}' docker.io 2>&1; echo; " +
          'ls /var/lib/apt/lists; sha256sum /etc/hosts /etc/hostname /var/log/dpkg.log',
      );

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('gen-sudo'), ip: await allocateIp(), sshPort: SSH_PORT });
        pristine = await snapshot();
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('as nosudo: create fails with "passwordless sudo", a non-zero exit and no stack trace', async () => {
      const result = await createGeneric(store, 'nosudo-m', host, { user: 'nosudo', timeoutMs: 60_000 });
      assertCleanError(
        result,
        1,
        'Creating machine "nosudo-m" failed',
        'User "nosudo" cannot run sudo without a password',
        'passwordless sudo',
      );
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /NOPASSWD/, 'suggests how to allow it');
    });

    it('as nosudo: the host is unchanged (no Docker, no /etc/docker, same hostname, apt never ran)', async () => {
      assert.equal(await snapshot(), pristine);
      assert.notEqual((await host.exec('command -v dockerd')).code, 0, 'dockerd exists');
      assert.notEqual((await host.exec('test -e /etc/docker/daemon.json')).code, 0, 'daemon.json exists');
    });

    it('as nosudo: ls shows the record in state Error with the reason', async () => {
      const ls = await store.moor(['ls']);
      assertExit(ls, 0, 'ls');
      const row = lsRow(ls.stdout, 'nosudo-m');
      assert.equal(row['STATE'], 'Error');
      assert.match(row['ERRORS'] ?? '', /cannot run sudo without a password/);
      const json = await store.moor(['ls', '--json']);
      const item = parseJson<{ Name: string; State: string }[]>(json).find((i) => i.Name === 'nosudo-m');
      assert.equal(item?.State, 'Error');
    });

    it('as docker (passwordless sudo) on port 2222: create works and docker runs containers over TLS', async () => {
      const created = await createGeneric(store, 'sudo-m', host, { user: 'docker', extra: ['--debug'] });
      sudoCreateStderr = created.stderr;
      assertExit(created, 0, 'create as docker');
      const inspect = await store.moor(['inspect', '-f', '{{.Driver.SSHUser}} {{.Driver.SSHPort}}', 'sudo-m']);
      assertExit(inspect, 0, 'inspect');
      assert.equal(inspect.stdout.trim(), `docker ${SSH_PORT}`);

      const version = await hostEngineVersion(host);
      const ls = await store.moor(['ls']);
      assert.equal(lsRow(ls.stdout, 'sudo-m')['STATE'], 'Running');
      assert.equal(lsRow(ls.stdout, 'sudo-m')['DOCKER'], `v${version}`);

      const env = await machineEnv(store, 'sudo-m');
      assert.equal(env['DOCKER_HOST'], `tcp://${host.ip}:2376`);
      const tar = await buildBusyboxImageTar(store.path('image'));
      assertExit(await docker(['import', tar, 'moor-test/busybox'], env), 0, 'docker import');
      const ran = await docker(['run', '--rm', 'moor-test/busybox', 'sh', '-c', 'echo hi from $(hostname -s)'], env);
      assertExit(ran, 0, 'docker run');
      assert.match(ran.stdout, /^hi from [0-9a-f]{12}\n$/, show(ran));
    });

    it('as docker: privileged files were written through sudo, owned by root', async () => {
      assert.equal(await hostOut(host, "stat -c '%a %U' /etc/docker/server-key.pem"), '600 root');
      assert.equal(await hostOut(host, "stat -c '%U' /etc/docker/daemon.json"), 'root');
      assert.equal(await hostOut(host, 'hostname'), 'sudo-m');
    });

    it('as docker: sudo never has to look up an unknown hostname while provisioning', () => {
      assert.ok(sudoCreateStderr !== '', 'create ran');
      assert.doesNotMatch(sudoCreateStderr, /unable to resolve host/);
    });

    it('as docker: ssh logs in as docker on port 2222; provision again changes nothing', async () => {
      const who = await store.moor(['ssh', 'sudo-m', '--', 'id -un; sudo -n id -un']);
      assertExit(who, 0, 'ssh');
      assert.equal(who.stdout, 'docker\nroot\n');
      const again = await store.moor(['provision', '--json', 'sudo-m']);
      assertExit(again, 0, 'provision');
      assert.equal(parseJson<{ changed: boolean }[]>(again)[0]?.changed, false);
    });

    it('the failed nosudo record is still refused by provision, with the same message', async () => {
      const result = await store.moor(['provision', 'nosudo-m']);
      assertCleanError(result, 1, 'passwordless sudo');
    });
  });
}
