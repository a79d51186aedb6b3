/**
 * The generic driver on hosts that already have Debian's docker.io (socket-activated, as Debian ships it):
 * three moor processes create three machines at the same time in one new store (so they also race to create
 * the store's CA); each configures the existing engine for TLS without reinstalling anything.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import {
  createGeneric,
  docker,
  hostEngineVersion,
  hostOut,
  hostsOrPlaceholder,
  lsRow,
  machineEnv,
} from './generic-helpers.js';
import { assertExit, assertNoStackTrace, TempStore, type RunResult } from './helpers.js';

const NAMES = ['pre-1', 'pre-2', 'pre-3'];

/**
 * Evidence that apt did not run on the host. The cached rootfs is built with `apt-get clean` and an emptied
 * /var/lib/apt/lists (only partial/ is left), so moor's Debian install path, which always starts with
 * `apt-get update`, would fill that folder with the mirror's index files; and `apt-get install` (or any dpkg
 * run) appends to /var/log/apt/history.log and /var/log/dpkg.log. Both signals are read as root inside the
 * host, before and after create, and must be identical.
 */
const APT_EVIDENCE = 'ls -A /var/lib/apt/lists; sha256sum /var/log/dpkg.log /var/log/apt/history.log';

if (hostsOrPlaceholder('generic driver on hosts with Docker preinstalled, three creates at once')) {
  describe('generic driver on hosts with Docker preinstalled, three creates at once', () => {
    let hosts: TestHost[];
    let store: TempStore;
    const aptBefore: string[] = [];
    let creates: RunResult[];

    before(
      async () => {
        store = await TempStore.create();
        const ips = [await allocateIp(), await allocateIp(), await allocateIp()];
        hosts = await Promise.all(
          ips.map((ip, index) => upHost({ name: hostName(`gen-pre${index + 1}`), ip, withDocker: true })),
        );
        for (const host of hosts) aptBefore.push(await hostOut(host, APT_EVIDENCE));
        creates = await Promise.all(
          hosts.map((host, index) => createGeneric(store, NAMES[index]!, host, { timeoutMs: 180_000 })),
        );
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('docker.io was installed on the hosts by their image, not by moor', async () => {
      // A precondition of the tests below: Docker preinstalled, so "nothing installed" is meaningful.
      for (const host of hosts) {
        assert.match(await hostOut(host, "dpkg-query -W -f '${Status}' docker.io"), /install ok installed/);
      }
    });

    it('all three creates succeed', () => {
      creates.forEach((value, index) => {
        assertExit(value, 0, `create ${NAMES[index]}`);
        assert.equal(value.stdout, `Machine "${NAMES[index]}" created (generic driver).\n`);
        assertNoStackTrace(value.stderr);
      });
    });

    it('nothing was installed: apt never ran on the hosts', async () => {
      for (const [index, host] of hosts.entries()) {
        assert.equal(await hostOut(host, APT_EVIDENCE), aptBefore[index], `${host.name}: apt ran`);
        assert.equal(await hostOut(host, 'ls -A /var/lib/apt/lists'), 'partial');
      }
    });

    it("the engines were configured: TLS on 2376, started by systemd with moor's drop-in", async () => {
      for (const [index, host] of hosts.entries()) {
        assert.equal(await hostOut(host, 'systemctl is-active docker.service'), 'active');
        const dropIn = await hostOut(host, 'cat /etc/systemd/system/docker.service.d/10-moor.conf');
        assert.match(dropIn, /^ExecStart=\/usr\/sbin\/dockerd -H fd:\/\/ -H tcp:\/\/0\.0\.0\.0:2376/m);
        assert.equal(await hostOut(host, 'hostname'), NAMES[index]);
      }
    });

    it('docker version over TLS works for each machine', async () => {
      for (const [index, host] of hosts.entries()) {
        const env = await machineEnv(store, NAMES[index]!);
        assert.equal(env['DOCKER_HOST'], `tcp://${host.ip}:2376`);
        const result = await docker(['version', '--format', '{{.Server.Version}}'], env);
        assertExit(result, 0, `docker version ${NAMES[index]}`);
        assert.equal(result.stdout.trim(), await hostEngineVersion(host));
      }
    });

    it('the three machines share the store CA that the racing creates made once', async () => {
      const ca = await readFile(store.path('certs', 'ca.pem'), 'utf8');
      const clientCert = await readFile(store.path('certs', 'cert.pem'), 'utf8');
      for (const name of NAMES) {
        assert.equal(await readFile(join(store.machineDir(name), 'ca.pem'), 'utf8'), ca, `${name}/ca.pem`);
        assert.equal(await readFile(join(store.machineDir(name), 'cert.pem'), 'utf8'), clientCert, `${name}/cert.pem`);
      }
    });

    it('ls shows all three Running with their engine version', async () => {
      const ls = await store.moor(['ls']);
      assertExit(ls, 0, 'ls');
      for (const [index, host] of hosts.entries()) {
        const row = lsRow(ls.stdout, NAMES[index]!);
        assert.equal(row['STATE'], 'Running', `${NAMES[index]}: ${JSON.stringify(row)}`);
        assert.equal(row['DOCKER'], `v${await hostEngineVersion(host)}`);
        assert.equal(row['URL'], `tcp://${host.ip}:2376`);
        assert.equal(row['ERRORS'], '');
      }
      assert.deepEqual((await store.moor(['ls', '-q'])).stdout, `${NAMES.join('\n')}\n`);
    });

    it("restartEngine (swarm repair's way out of an engine hung in a leave): a new dockerd over SSH, answering over TLS", async () => {
      const [{ Store }, { openMachine }, { restartEngine }, { silentLogger }] = await Promise.all([
        import('../../src/core/store.js'),
        import('../../src/core/lifecycle.js'),
        import('../../src/core/provision/provision.js'),
        import('../../src/core/log.js'),
      ]);
      const host = hosts[0]!;
      const pid = () => hostOut(host, 'systemctl show -p MainPID --value docker.service');
      const before = await pid();
      const machine = await openMachine(new Store(store.root), NAMES[0]!, silentLogger);
      const version = await restartEngine(machine.record, machine.driver, machine.dir, {}, silentLogger);
      assert.equal(version, await hostEngineVersion(host));
      const after = await pid();
      assert.notEqual(after, before, 'dockerd was restarted');
      assert.notEqual(after, '0');
      const result = await docker(['version', '--format', '{{.Server.Version}}'], await machineEnv(store, NAMES[0]!));
      assertExit(result, 0, `docker version ${NAMES[0]} after the restart`);
    });

    it('no lock is left behind', async () => {
      assert.deepEqual(await readdir(store.path('locks')), []);
    });
  });
}
